"""A stand-in for the accounting office's online payment page, for ``vigie up --demo``.

Not part of Vigie's three services: the gateway never takes payments. This portal plays the
part of the accounting system's own page. A learner logs in through the gateway as to any
other platform (it is a confidential OIDC client that is not a training platform, so a
suspended learner can still reach it), sees the debts the accounting office reminded them of,
pays one, and sees the payment recorded and then their access restored.

Where the debts come from: the accounting system is the source of the reminders, so it knows
its debts from its own books, not from the gateway. This stand-in has no books of its own: its
ledger (``ledger.py``) is rebuilt at each start from what the accounting system published, the
``billing.events.v1`` topic read from its beginning (reminders open a debt, settlements close
it), and it follows ``access.events.v1`` to see the suspensions and restorations its reminders
caused, which the accounting principal may read (kit/kafka_acls.py, ``WATCHES``). So it needs
no database and shows exactly the debts the gateway acted upon. The gateway's accounting API
was the other candidate; it knows debt ids but not what a person must read to pay (amounts are
the accounting system's business), and reading it would make the payment page depend on the
service whose decisions it is meant to answer.

Paying publishes ``vigie.billing.debt.settled`` (``payments.py``) with an ``/accounting/...``
source, as the real accounting system does when it records a payment.
"""
