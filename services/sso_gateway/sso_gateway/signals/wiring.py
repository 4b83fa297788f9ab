"""What the transmitter adds to a running gateway: the access changes it reports, and its
periodic jobs (push, figures), each on the kit's ``Runtime.every``. Session expiries reach it
through the end of session (``sessions.wiring`` sweeps them)."""

from __future__ import annotations

from datetime import datetime

from sso_gateway.access.service import AccessService
from sso_gateway.config import Settings
from sso_gateway.oauth.server import Provider
from sso_gateway.signals.delivery import delivery
from sso_gateway.signals.service import signals
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime


def report_access_changes(access: AccessService, settings: Settings) -> None:
    """RISC account-disabled / account-enabled in the transaction of each access change."""

    async def changed(
        conn: Conn, learner_id: str, suspended: bool, reason: str, at: datetime
    ) -> None:
        await signals.access_changed(
            conn, settings, user_id=learner_id, suspended=suspended, reason=reason, changed_at=at
        )

    access.on_change(changed)


def register(
    runtime: Runtime, settings: Settings, access: AccessService, provider: Provider
) -> None:
    report_access_changes(access, settings)

    async def push() -> None:
        await delivery.deliver_due(runtime.pool, provider.keyring, settings)

    async def housekeeping() -> None:
        await delivery.housekeeping(runtime.pool, settings)

    if settings.signals_push_seconds > 0:
        runtime.every(settings.signals_push_seconds, "shared signals push", push)
    if settings.signals_housekeeping_seconds > 0:
        runtime.every(
            settings.signals_housekeeping_seconds, "shared signals housekeeping", housekeeping
        )
