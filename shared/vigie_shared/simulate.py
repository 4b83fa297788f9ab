"""The billing simulator's names at their old path, for the two tests that still import them
from here (``tests/integration/test_campaign.py``, ``tests/security/test_kafka_acls.py``). The
simulator lives in ``vigie_shared.demo``: once those tests import from ``demo.campaign`` and
``demo.simulate``, this module goes."""

from vigie_shared.demo.campaign import Campaign, Fate, campaign, schedule
from vigie_shared.demo.simulate import Outcome, play

__all__ = ["Campaign", "Fate", "Outcome", "campaign", "play", "schedule"]
