"""Refused attempts on personal data go on the record, every one of them (GDPR Art. 5(2)
accountability and Art. 32(1)(d)): a ``vigie.security.access.denied`` event through the
service's outbox, which the audit log consumes like every other event.

A refusal is recorded when the ``Problem`` raised for it names a ``denial`` reason: the bearer
dependency does so for 401 and 403; a service does so for the 404 it answers instead of 403 so
as not to reveal that another person's resource exists.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from vigie_shared.events import AccessDenied, new_event
from vigie_shared.kit import outbox

log = logging.getLogger("vigie.security")

ANONYMOUS = "anonymous"
ACQUIRE_TIMEOUT = 2.0


def caller_of(request: Request) -> Any:
    """The principal the bearer dependency authenticated for this request, if any."""
    return getattr(request.state, "principal", None)


async def record_denial(request: Request, status: int, reason: str) -> None:
    principal = caller_of(request)
    user_id: str | None = getattr(principal, "subject", None)
    client_id: str | None = getattr(principal, "client_id", None)
    ip = request.client.host if request.client else None
    runtime = getattr(request.app.state, "runtime", None)
    spec = getattr(runtime, "spec", None)
    service = getattr(spec, "name", "unknown")
    # One log line whatever happens next: operators see refusals even if the database is down.
    log.warning(
        "access denied",
        extra={
            "service": service,
            "method": request.method,
            "path": request.url.path,
            "status": status,
            "reason": reason,
            "user_id": user_id,
            "client_id": client_id,
            "ip": ip,
        },
    )
    if runtime is None or spec is None:
        return
    event = new_event(
        AccessDenied(
            service=service,
            method=request.method,
            path=request.url.path,
            status=status,
            reason=reason,
            user_id=user_id,
            client_id=client_id,
            ip=ip,
        ),
        subject=user_id or ANONYMOUS,
        source=spec.source,
    )
    try:
        # Bounded: a starved pool must delay a refusal by seconds at most, never hang it.
        async with runtime.pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn, conn.transaction():
            await outbox.enqueue(conn, event)
    except Exception:
        # The caller is refused either way; a refusal must never turn into a 500.
        log.exception("could not record the refusal %s", event.id)
