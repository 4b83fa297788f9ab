"""``python -m vigie_shared.demo_payment``: the demo payment portal (``vigie up --demo`` runs
it beside the services)."""

from __future__ import annotations

from vigie_shared.demo_payment.app import create_app
from vigie_shared.demo_payment.config import PaymentSettings
from vigie_shared.kit.serve import serve


def main() -> None:
    settings = PaymentSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
