"""What sessions add to a running gateway: the sweep that ends the sessions past their absolute
or idle end, on the kit's ``Runtime.every`` (safe with several replicas: each end is claimed
by one, ``SKIP LOCKED``)."""

from __future__ import annotations

import logging

from sso_gateway.config import Settings
from sso_gateway.sessions.service import SWEEP_BATCH, sessions
from vigie_shared.kit.runtime import Runtime

log = logging.getLogger(__name__)


def register(runtime: Runtime, settings: Settings) -> None:
    async def sweep() -> None:
        # A full batch means more may be due: take them now, not one batch per interval.
        while (count := await sessions.report_expired(runtime.pool, settings)) > 0:
            log.info("ended %d expired or idle session(s)", count)
            if count < SWEEP_BATCH:
                break

    if settings.session_expiry_sweep_seconds > 0:
        runtime.every(settings.session_expiry_sweep_seconds, "session expiry sweep", sweep)
