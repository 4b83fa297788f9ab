"""Kafka subscribers ending the pages' sessions when the gateway ends the SSO session they came
from (logout, back-channel logout, suspension, restriction, erasure) or erases the person.
Deleting what is already gone changes nothing, so a redelivery is harmless."""

from __future__ import annotations

import logging
from typing import Any

from dpo_requests.web.repository import web_session_repository
from vigie_shared import topics
from vigie_shared.events import CloudEvent, SessionRevoked, UserErased
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime

log = logging.getLogger(__name__)


def register(runtime: Runtime) -> None:
    consumer = runtime.consumer("pages-sessions", topics.IDENTITY)

    @consumer.handles(SessionRevoked)
    async def on_session_revoked(conn: Conn, event: CloudEvent[Any]) -> None:
        ended = await web_session_repository.delete_of_sid(conn, event.data.session_id)
        if ended:
            log.info("ended %d pages session(s) of SSO session %s", ended, event.data.session_id)

    @consumer.handles(UserErased)
    async def on_user_erased(conn: Conn, event: CloudEvent[Any]) -> None:
        await web_session_repository.delete_of_subject(conn, event.data.user_id)
