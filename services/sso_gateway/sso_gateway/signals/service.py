"""The Shared Signals transmitter's streams (SSF 1.0 §8) and the SETs written for them.

Every SET is written in the transaction of the change it reports (a session ended, an access
suspended or restored, an account erased), one row per stream, so none is lost and none is
sent for a change rolled back; the delivery (``delivery``) reads those rows after commit. Each
row names the fact it reports (``dedupe``): writing the same fact twice for one stream is a
no-op, so a replayed trigger never yields a second SET.

A receiver is a registered client; it sees and changes only its own streams (another's answer
404, as a missing one). Every subject is in a stream until removed (``default_subjects: ALL``).
Paused streams keep at most ``signals_paused_max_events`` undelivered SETs, dropping the oldest
(and counting them); disabled streams keep none.
"""

from __future__ import annotations

import ipaddress
import math
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sso_gateway.config import Settings
from sso_gateway.signals import sets, texts
from sso_gateway.signals.records import Stream, Subject
from sso_gateway.signals.repository import SignalRepository, signal_repository
from sso_gateway.signals.schemas import (
    Delivery,
    DeliveryPublic,
    EmailSubject,
    IssSubSubject,
    StreamConfiguration,
    StreamCreate,
    StreamStatus,
    StreamUpdate,
    SubjectIdentifier,
)
from vigie_shared.kit import secrets
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn

AUTHORIZATION_PURPOSE = "vigie ssf push authorization"
"""HKDF ``info`` of the key sealing receivers' push Authorization headers."""


class StreamNotFound(Exception):
    """No such stream for this receiver."""


class InvalidStream(ValueError):
    """A stream configuration the transmitter cannot serve (SSF §8.1.1.1: 400)."""


class TooManyStreams(Exception):
    """SSF §8.1.1.1: 409 when a receiver has as many streams as the transmitter keeps."""


class VerificationTooSoon(Exception):
    """SSF §8.1.4.2: 429 for a verification asked before ``min_verification_interval``; the
    seconds left in ``args[0]``."""


Payload = Callable[[Stream, Subject], dict[str, Any]]


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SignalService:
    def __init__(self, repository: SignalRepository) -> None:
        self._repository = repository

    def configuration(self, settings: Settings, stream: Stream) -> StreamConfiguration:
        issuer = settings.issuer
        endpoint = stream.endpoint_url
        if stream.delivery_method == sets.POLL:
            endpoint = f"{issuer}/ssf/poll/{stream.id}"
        return StreamConfiguration(
            stream_id=stream.id,
            iss=issuer,
            aud=stream.audience,
            jwks_uri=f"{issuer}/jwks",
            events_supported=list(sets.EVENTS_SUPPORTED),
            events_requested=list(stream.events_requested),
            events_delivered=list(stream.events_delivered),
            delivery=DeliveryPublic(method=stream.delivery_method, endpoint_url=endpoint),
            description=stream.description,
            format=stream.subject_format,
            min_verification_interval=settings.signals_min_verification_seconds or None,
        )

    def _delivery_fields(
        self, settings: Settings, stream_id: str, delivery: Delivery
    ) -> dict[str, Any]:
        if delivery.method == sets.POLL:
            return {"delivery_method": sets.POLL, "endpoint_url": None, "authorization_enc": None}
        url = delivery.endpoint_url
        if not url:
            raise InvalidStream("A push stream needs the receiver's endpoint_url.")
        parts = urlsplit(url)
        # RFC 8935 §4.1: SETs travel over TLS; plain HTTP only to this host, or in development.
        if parts.scheme != "https" and not (
            settings.env == "development" or _is_loopback(parts.hostname)
        ):
            raise InvalidStream("A push endpoint_url must be https.")
        sealed = None
        if delivery.authorization_header:
            sealed = secrets.seal(
                self._sealing_key(settings),
                delivery.authorization_header.encode(),
                stream_id.encode(),
            )
        return {"delivery_method": sets.PUSH, "endpoint_url": url, "authorization_enc": sealed}

    @staticmethod
    def _sealing_key(settings: Settings) -> bytes:
        return secrets.derive_key(settings.secret_key, AUTHORIZATION_PURPOSE)

    def authorization_header(self, settings: Settings, stream_id: str, sealed: bytes) -> str:
        return secrets.open_sealed(self._sealing_key(settings), sealed, stream_id.encode()).decode()

    @staticmethod
    def _events(requested: list[str]) -> dict[str, list[str]]:
        """SSF §8.1.1: what the stream delivers is what it asked for that the transmitter
        supports, in the order asked."""
        unique = list(dict.fromkeys(requested))
        return {
            "events_requested": unique,
            "events_delivered": [e for e in unique if e in sets.EVENTS_SUPPORTED],
        }

    async def create(
        self, conn: Conn, settings: Settings, client_id: str, data: StreamCreate
    ) -> StreamConfiguration:
        stream_id = f"ssf-{uuid.uuid4().hex}"
        fields = {
            **self._events(data.events_requested),
            **self._delivery_fields(settings, stream_id, data.delivery),
            "description": data.description,
            "subject_format": data.format,
        }
        async with conn.transaction():
            # One receiver's creations in turn, so two at once cannot both pass the limit.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"ssf {client_id}")
            if await self._repository.count_streams(conn, client_id) >= (
                settings.signals_max_streams_per_receiver
            ):
                raise TooManyStreams(client_id)
            stream = await self._repository.insert_stream(
                conn, stream_id=stream_id, client_id=client_id, audience=client_id, fields=fields
            )
        return self.configuration(settings, stream)

    async def get(self, conn: Conn, client_id: str, stream_id: str) -> Stream:
        stream = await self._repository.stream(conn, stream_id, client_id)
        if stream is None:
            raise StreamNotFound(stream_id)
        return stream

    async def streams(
        self, conn: Conn, settings: Settings, client_id: str
    ) -> list[StreamConfiguration]:
        return [
            self.configuration(settings, s)
            for s in await self._repository.streams_of(conn, client_id)
        ]

    async def update(
        self, conn: Conn, settings: Settings, client_id: str, data: StreamUpdate
    ) -> StreamConfiguration:
        fields: dict[str, Any] = {}
        if data.events_requested is not None:
            fields.update(self._events(data.events_requested))
        if data.delivery is not None:
            fields.update(self._delivery_fields(settings, data.stream_id, data.delivery))
        if "description" in data.model_fields_set:
            fields["description"] = data.description
        if data.format is not None:
            fields["subject_format"] = data.format
        async with conn.transaction():
            stream = await self._locked(conn, client_id, data.stream_id)
            if fields:
                stream = await self._repository.update_stream(conn, stream.id, fields)
        return self.configuration(settings, stream)

    async def replace(
        self, conn: Conn, settings: Settings, client_id: str, stream_id: str, data: StreamCreate
    ) -> StreamConfiguration:
        fields = {
            **self._events(data.events_requested),
            **self._delivery_fields(settings, stream_id, data.delivery),
            "description": data.description,
            "subject_format": data.format,
        }
        async with conn.transaction():
            await self._locked(conn, client_id, stream_id)
            stream = await self._repository.update_stream(conn, stream_id, fields)
        return self.configuration(settings, stream)

    async def delete(self, conn: Conn, client_id: str, stream_id: str) -> None:
        if not await self._repository.delete_stream(conn, stream_id, client_id):
            raise StreamNotFound(stream_id)

    async def _locked(self, conn: Conn, client_id: str, stream_id: str) -> Stream:
        stream = await self._repository.stream(conn, stream_id, client_id, lock=True)
        if stream is None:
            raise StreamNotFound(stream_id)
        return stream

    async def status(self, conn: Conn, client_id: str, stream_id: str) -> StreamStatus:
        stream = await self.get(conn, client_id, stream_id)
        return StreamStatus(
            stream_id=stream.id,
            status=stream.status,
            reason=stream.status_reason,
        )

    async def set_status(self, conn: Conn, client_id: str, data: StreamStatus) -> StreamStatus:
        async with conn.transaction():
            await self._locked(conn, client_id, data.stream_id)
            stream = await self._repository.update_stream(
                conn, data.stream_id, {"status": data.status, "status_reason": data.reason}
            )
            if data.status == "disabled":
                await self._repository.drop_pending(conn, stream.id)
        return StreamStatus(
            stream_id=stream.id,
            status=stream.status,
            reason=stream.status_reason,
        )

    async def _user_of(
        self, conn: Conn, settings: Settings, subject: SubjectIdentifier
    ) -> str | None:
        if isinstance(subject, EmailSubject):
            return await self._repository.user_id_by_email(conn, subject.email)
        if isinstance(subject, IssSubSubject) and subject.iss != settings.issuer:
            return None
        user_id = subject.sub if isinstance(subject, IssSubSubject) else subject.id
        found = await self._repository.subject(conn, user_id)
        return None if found is None else found.id

    async def change_subject(
        self,
        conn: Conn,
        settings: Settings,
        client_id: str,
        stream_id: str,
        subject: SubjectIdentifier,
        *,
        add: bool,
    ) -> None:
        """SSF §8.1.3: an unknown subject is accepted and changes nothing, so the answer does
        not tell a receiver which accounts exist (§8.1.3.2 allows it)."""
        async with conn.transaction():
            await self._locked(conn, client_id, stream_id)
            user_id = await self._user_of(conn, settings, subject)
            if user_id is None:
                return
            if add:
                await self._repository.include(conn, stream_id, user_id)
            else:
                await self._repository.exclude(conn, stream_id, user_id)

    async def verify(
        self,
        conn: Conn,
        settings: Settings,
        client_id: str,
        stream_id: str,
        state: str | None,
        *,
        operator: bool = False,
    ) -> None:
        """SSF §8.1.4: a verification SET, its subject the stream itself, ``state`` echoed.
        A receiver asks at most once per ``min_verification_interval`` (§8.1.4.2); an
        operator's request (``vigie signals verify``) is not its and is not counted."""
        async with conn.transaction():
            stream = await self._locked(conn, client_id, stream_id)
            if not operator:
                now = utcnow()
                last = stream.verification_requested_at
                interval = settings.signals_min_verification_seconds
                if last is not None and (now - last).total_seconds() < interval:
                    raise VerificationTooSoon(math.ceil(interval - (now - last).total_seconds()))
                await self._repository.update_stream(
                    conn, stream.id, {"verification_requested_at": now}
                )
            if stream.status == "disabled":
                return
            payload = {} if state is None else {"state": state}
            set_claims = sets.claims(
                issuer=settings.issuer,
                audience=stream.audience,
                txn=await self._repository.transaction_id(conn),
                sub_id={"format": "opaque", "id": stream.id},
                event_type=sets.VERIFICATION,
                payload=payload,
            )
            await self._write(
                conn, settings, stream, f"verification:{set_claims['jti']}", set_claims
            )

    async def verify_for_operator(
        self, conn: Conn, settings: Settings, stream_id: str, state: str | None
    ) -> None:
        """A verification SET an operator asks for (``vigie signals verify``), on any stream."""
        client_id = await self._repository.owner_of(conn, stream_id)
        if client_id is None:
            raise StreamNotFound(stream_id)
        await self.verify(conn, settings, client_id, stream_id, state, operator=True)

    async def _write(
        self,
        conn: Conn,
        settings: Settings,
        stream: Stream,
        dedupe: str,
        set_claims: dict[str, Any],
    ) -> bool:
        event_type = next(iter(set_claims["events"]))
        written = await self._repository.insert_event(
            conn,
            stream_id=stream.id,
            jti=set_claims["jti"],
            dedupe=dedupe,
            event_type=event_type,
            claims=set_claims,
        )
        if written and stream.status == "paused":
            await self._repository.trim(conn, stream.id, settings.signals_paused_max_events)
        return written

    async def _emit(
        self,
        conn: Conn,
        settings: Settings,
        *,
        event_type: str,
        user_id: str,
        dedupe: str,
        payload: dict[str, Any],
        session_id: str | None = None,
    ) -> int:
        """Write one SET per stream that takes ``event_type`` about ``user_id``; how many."""
        streams = await self._repository.streams_for(conn, event_type, user_id)
        if not streams:
            return 0
        subject = await self._repository.subject(conn, user_id)
        if subject is None:
            return 0
        txn = await self._repository.transaction_id(conn)
        written = 0
        for stream in streams:
            sub_id: dict[str, Any] = sets.subject_id(
                stream.subject_format, settings.issuer, subject
            )
            if session_id is not None:
                sub_id = sets.session_subject(sub_id, session_id)
            set_claims = sets.claims(
                issuer=settings.issuer,
                audience=stream.audience,
                txn=txn,
                sub_id=sub_id,
                event_type=event_type,
                payload=payload,
            )
            written += await self._write(conn, settings, stream, dedupe, set_claims)
        return written

    async def session_revoked(
        self, conn: Conn, settings: Settings, *, user_id: str, session_id: str, reason: str
    ) -> int:
        """CAEP 1.0 §3.1, in the transaction that ended the session."""
        why = texts.SESSION_ENDED.get(reason, texts.SESSION_ENDED_OTHERWISE)
        return await self._emit(
            conn,
            settings,
            event_type=sets.SESSION_REVOKED,
            user_id=user_id,
            dedupe=f"session-revoked:{session_id}",
            session_id=session_id,
            payload={
                "event_timestamp": int(utcnow().timestamp()),
                "initiating_entity": why.initiating_entity,
                "reason_admin": texts.in_every_language(why.admin),
                "reason_user": texts.in_every_language(why.user),
            },
        )

    async def credential_changed(
        self, conn: Conn, settings: Settings, *, user_id: str, reset: bool
    ) -> int:
        """CAEP 1.0 §3.3 credential-change, in the transaction that changed the password.
        ``change_type``: ``update`` when the holder changed it (the same credential, a new
        value), ``revoke`` when an administrator reset it (the value the holder knew is
        withdrawn and one they did not choose replaces it)."""
        why = texts.PASSWORD_RESET if reset else texts.PASSWORD_CHANGED
        return await self._emit(
            conn,
            settings,
            event_type=sets.CREDENTIAL_CHANGE,
            user_id=user_id,
            dedupe=f"credential-change:{uuid.uuid4().hex}",
            payload={
                "credential_type": "password",
                "change_type": "revoke" if reset else "update",
                "event_timestamp": int(utcnow().timestamp()),
                "initiating_entity": why.initiating_entity,
                "reason_admin": texts.in_every_language(why.admin),
                "reason_user": texts.in_every_language(why.user),
            },
        )

    async def access_changed(
        self,
        conn: Conn,
        settings: Settings,
        *,
        user_id: str,
        suspended: bool,
        reason: str,
        changed_at: datetime,
    ) -> int:
        """RISC 1.0 account-disabled or account-enabled, in the transaction that suspended or
        restored the learner (access governance decides only on a change, so a replayed
        billing event writes nothing)."""
        if suspended:
            event_type, admin, user = (
                sets.ACCOUNT_DISABLED,
                texts.SUSPENDED_ADMIN,
                texts.SUSPENDED_USER,
            )
        else:
            event_type, admin, user = (
                sets.ACCOUNT_ENABLED,
                texts.RESTORED_ADMIN,
                texts.RESTORED_USER,
            )
        return await self._emit(
            conn,
            settings,
            event_type=event_type,
            user_id=user_id,
            dedupe=f"{event_type}:{user_id}:{changed_at.isoformat()}",
            payload={
                "event_timestamp": int(changed_at.timestamp()),
                "initiating_entity": "policy",
                "reason_admin": texts.in_every_language(admin, reason=reason),
                "reason_user": texts.in_every_language(user),
            },
        )

    async def account_purged(self, conn: Conn, settings: Settings, *, user_id: str) -> int:
        """RISC 1.0 account-purged, in the erasure's transaction (GDPR Art. 17, 19: the
        recipients are told), before the account is anonymised: the SET names it as it was."""
        return await self._emit(
            conn,
            settings,
            event_type=sets.ACCOUNT_PURGED,
            user_id=user_id,
            dedupe=f"account-purged:{user_id}",
            payload={
                "event_timestamp": int(utcnow().timestamp()),
                "initiating_entity": "user",
                "reason_admin": texts.in_every_language(texts.PURGED_ADMIN),
                "reason_user": texts.in_every_language(texts.PURGED_USER),
            },
        )


signals = SignalService(signal_repository)
