"""The portal's settings under their old import path (see ``__init__``)."""

from vigie_shared.demo.payment.config import PaymentSettings as PaymentSettings
