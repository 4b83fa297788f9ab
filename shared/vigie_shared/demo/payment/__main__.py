"""``python -m vigie_shared.demo.payment``: the demo payment portal (``vigie up --demo`` runs
it beside the services); ``... remind --learner ID``: an overdue reminder to try it with,
published to the broker of the ``vigie up`` running on the data dir (or ``VIGIE_KAFKA_*``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from decimal import Decimal

from vigie_shared.demo.payment.app import create_app
from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.demo.payment.reminders import remind
from vigie_shared.kit.kafka import service_login
from vigie_shared.kit.serve import serve
from vigie_shared.kit.stack_file import resolve


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vigie_shared.demo.payment")
    sub = parser.add_subparsers(dest="command")
    reminder = sub.add_parser("remind", help="send a learner an overdue reminder (demo)")
    reminder.add_argument("--learner", required=True, help="the learner's id (vigie user show)")
    reminder.add_argument("--amount", type=Decimal, default=Decimal("120.50"))
    reminder.add_argument("--data-dir", help="the data dir of the running vigie up")
    args = parser.parse_args(argv)
    settings = PaymentSettings()
    if args.command != "remind":
        serve(create_app(settings), settings)
        return 0
    target = resolve(data_dir=args.data_dir)
    debt_id = asyncio.run(
        remind(
            target.kafka_bootstrap,
            args.learner,
            amount=args.amount,
            login=service_login(settings),
        )
    )
    print(f"reminder {debt_id} sent to {args.learner} ({args.amount} EUR), past its grace")
    return 0


if __name__ == "__main__":
    sys.exit(main())
