"""What the transmitter adds to a running gateway: the access changes it reports, and its
periodic jobs (push, session expiry, figures), each on the kit's ``Runtime.every``."""

from __future__ import annotations

import logging
from datetime import datetime

from sso_gateway.access.service import AccessService
from sso_gateway.config import Settings
from sso_gateway.oauth.server import Provider
from sso_gateway.sessions.service import sessions
from sso_gateway.signals.delivery import delivery
from sso_gateway.signals.service import signals
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime

log = logging.getLogger(__name__)


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

    async def expire() -> None:
        count = await sessions.report_expired(runtime.pool, settings)
        if count:
            log.info("reported %d expired session(s) to Shared Signals receivers", count)

    async def housekeeping() -> None:
        await delivery.housekeeping(runtime.pool, settings)

    if settings.signals_push_seconds > 0:
        runtime.every(settings.signals_push_seconds, "shared signals push", push)
    if settings.session_expiry_sweep_seconds > 0:
        runtime.every(settings.session_expiry_sweep_seconds, "session expiry report", expire)
    if settings.signals_housekeeping_seconds > 0:
        runtime.every(
            settings.signals_housekeeping_seconds, "shared signals housekeeping", housekeeping
        )
