"""All SQL of the Shared Signals transmitter: streams, their excluded subjects, and the SETs
written for them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sso_gateway.signals.records import ClaimedPush, DeliveryState, QueuedSet, Stream, Subject
from vigie_shared.kit.db import Conn, RowUpdate, record

_STREAM_UPDATE = RowUpdate(
    "ssf_streams",
    frozenset(
        {
            "events_requested",
            "events_delivered",
            "delivery_method",
            "endpoint_url",
            "authorization_enc",
            "description",
            "subject_format",
            "status",
            "status_reason",
            "verification_requested_at",
        }
    ),
    touch="updated_at",
)


class SignalRepository:
    async def insert_stream(
        self,
        conn: Conn,
        *,
        stream_id: str,
        client_id: str,
        audience: str,
        fields: Mapping[str, Any],
    ) -> Stream:
        row = await conn.fetchrow(
            "INSERT INTO ssf_streams (id, client_id, audience, events_requested,"
            " events_delivered, delivery_method, endpoint_url, authorization_enc, description,"
            " subject_format) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
            stream_id,
            client_id,
            audience,
            fields["events_requested"],
            fields["events_delivered"],
            fields["delivery_method"],
            fields["endpoint_url"],
            fields["authorization_enc"],
            fields["description"],
            fields["subject_format"],
        )
        assert row is not None
        return record(Stream, row)

    async def count_streams(self, conn: Conn, client_id: str) -> int:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM ssf_streams WHERE client_id = $1", client_id
        )
        return count

    async def stream(
        self, conn: Conn, stream_id: str, client_id: str, *, lock: bool = False
    ) -> Stream | None:
        """The stream if it is this receiver's (another's is as unknown as a missing one)."""
        sql = (
            "SELECT * FROM ssf_streams WHERE id = $1 AND client_id = $2 FOR UPDATE"
            if lock
            else "SELECT * FROM ssf_streams WHERE id = $1 AND client_id = $2"
        )
        row = await conn.fetchrow(sql, stream_id, client_id)
        return None if row is None else record(Stream, row)

    async def owner_of(self, conn: Conn, stream_id: str) -> str | None:
        """The receiver a stream belongs to (for the operator's commands)."""
        client_id: str | None = await conn.fetchval(
            "SELECT client_id FROM ssf_streams WHERE id = $1", stream_id
        )
        return client_id

    async def streams_of(self, conn: Conn, client_id: str) -> list[Stream]:
        rows = await conn.fetch(
            "SELECT * FROM ssf_streams WHERE client_id = $1 ORDER BY created_at, id", client_id
        )
        return [record(Stream, row) for row in rows]

    async def update_stream(self, conn: Conn, stream_id: str, fields: Mapping[str, Any]) -> Stream:
        return record(Stream, await _STREAM_UPDATE.fetch(conn, stream_id, fields))

    async def delete_stream(self, conn: Conn, stream_id: str, client_id: str) -> bool:
        status: str = await conn.execute(
            "DELETE FROM ssf_streams WHERE id = $1 AND client_id = $2", stream_id, client_id
        )
        return status == "DELETE 1"

    async def drop_pending(self, conn: Conn, stream_id: str) -> int:
        """Forget what a disabled stream had not delivered (SSF §8.1.2: it holds nothing)."""
        status: str = await conn.execute(
            "DELETE FROM ssf_events e WHERE e.stream_id = $1"
            " AND e.delivered_at IS NULL AND e.failed_at IS NULL",
            stream_id,
        )
        return int(status.split()[-1])

    async def exclude(self, conn: Conn, stream_id: str, user_id: str) -> None:
        await conn.execute(
            "INSERT INTO ssf_stream_exclusions (stream_id, user_id) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            stream_id,
            user_id,
        )

    async def include(self, conn: Conn, stream_id: str, user_id: str) -> None:
        await conn.execute(
            "DELETE FROM ssf_stream_exclusions WHERE stream_id = $1 AND user_id = $2",
            stream_id,
            user_id,
        )

    async def subject(self, conn: Conn, user_id: str) -> Subject | None:
        row = await conn.fetchrow("SELECT id, email FROM users WHERE id = $1", user_id)
        return None if row is None else record(Subject, row)

    async def user_id_by_email(self, conn: Conn, email: str) -> str | None:
        user_id: str | None = await conn.fetchval(
            "SELECT id FROM users WHERE lower(email) = lower($1) AND erased_at IS NULL", email
        )
        return user_id

    async def streams_for(self, conn: Conn, event_type: str, user_id: str) -> list[Stream]:
        """The streams an event about ``user_id`` goes to: not disabled, delivering that
        event type, and not having removed the subject."""
        rows = await conn.fetch(
            "SELECT s.* FROM ssf_streams s WHERE s.status <> 'disabled'"
            " AND $1 = ANY(s.events_delivered) AND NOT EXISTS (SELECT 1 FROM"
            " ssf_stream_exclusions x WHERE x.stream_id = s.id AND x.user_id = $2)"
            " ORDER BY s.id",
            event_type,
            user_id,
        )
        return [record(Stream, row) for row in rows]

    async def transaction_id(self, conn: Conn) -> str:
        """The current database transaction's id: the ``txn`` (RFC 8417 §2.2) shared by every
        SET one business action writes, since each action is one transaction."""
        txid: str = await conn.fetchval("SELECT pg_current_xact_id()::text")
        return txid

    async def insert_event(
        self,
        conn: Conn,
        *,
        stream_id: str,
        jti: str,
        dedupe: str,
        event_type: str,
        claims: dict[str, Any],
    ) -> bool:
        """False when this fact was already written for this stream (a replayed trigger)."""
        status: str = await conn.execute(
            "INSERT INTO ssf_events (stream_id, jti, dedupe, event_type, claims)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_id, dedupe) DO NOTHING",
            stream_id,
            jti,
            dedupe,
            event_type,
            claims,
        )
        return status == "INSERT 0 1"

    async def trim(self, conn: Conn, stream_id: str, keep: int) -> int:
        """Keep the ``keep`` newest undelivered SETs of a paused stream, counting the rest as
        dropped: the newest say where an account stands now."""
        dropped: int = await conn.fetchval(
            "WITH gone AS (DELETE FROM ssf_events WHERE id IN (SELECT e.id FROM ssf_events e"
            " WHERE e.stream_id = $1 AND e.delivered_at IS NULL AND e.failed_at IS NULL"
            " ORDER BY e.id DESC OFFSET $2)"
            " RETURNING 1), n AS (SELECT count(*) AS n FROM gone)"
            " UPDATE ssf_streams SET dropped = dropped + n.n FROM n WHERE id = $1 AND n.n > 0"
            " RETURNING n.n",
            stream_id,
            keep,
        )
        return dropped or 0

    async def claim_pushes(
        self, conn: Conn, *, limit: int, lease_seconds: float, claim_id: uuid.UUID
    ) -> list[ClaimedPush]:
        """Lease up to ``limit`` due SETs of enabled push streams to ``claim_id`` in one
        statement (the back-channel logout worker's pattern: no lock outlives it)."""
        rows = await conn.fetch(
            "UPDATE ssf_events d SET claim_id = $3, next_at = now() + make_interval(secs => $2)"
            " FROM (SELECT e.id FROM ssf_events e JOIN ssf_streams s ON s.id = e.stream_id"
            "  WHERE e.delivered_at IS NULL AND e.failed_at IS NULL AND e.next_at <= now()"
            "  AND s.status = 'enabled'"
            "  AND s.delivery_method = 'urn:ietf:rfc:8935'"
            "  ORDER BY e.next_at, e.id LIMIT $1 FOR UPDATE OF e SKIP LOCKED) due,"
            " ssf_streams s, clients c"
            " WHERE d.id = due.id AND s.id = d.stream_id AND c.client_id = s.client_id"
            " RETURNING d.id, d.stream_id, s.client_id, s.endpoint_url, s.authorization_enc,"
            " c.signing_alg, d.claims, d.attempts",
            limit,
            lease_seconds,
            claim_id,
        )
        return [
            ClaimedPush(
                id=row["id"],
                claim_id=claim_id,
                stream_id=row["stream_id"],
                client_id=row["client_id"],
                endpoint_url=row["endpoint_url"],
                authorization_enc=row["authorization_enc"],
                signing_alg=row["signing_alg"],
                claims=dict(row["claims"]),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    async def pushed(self, conn: Conn, event_id: int, claim_id: uuid.UUID) -> bool:
        status: str = await conn.execute(
            "UPDATE ssf_events SET delivered_at = now(), attempts = attempts + 1,"
            " claim_id = NULL WHERE id = $1 AND claim_id = $2 AND delivered_at IS NULL",
            event_id,
            claim_id,
        )
        return status == "UPDATE 1"

    async def push_failed(
        self,
        conn: Conn,
        event_id: int,
        claim_id: uuid.UUID,
        *,
        error: str,
        retry_in: float,
        give_up: bool,
    ) -> bool:
        status: str = await conn.execute(
            "UPDATE ssf_events SET attempts = attempts + 1, last_error = $3,"
            " next_at = now() + make_interval(secs => $4), claim_id = NULL,"
            " failed_at = CASE WHEN $5 THEN now() END"
            " WHERE id = $1 AND claim_id = $2 AND delivered_at IS NULL",
            event_id,
            claim_id,
            error,
            retry_in,
            give_up,
        )
        return status == "UPDATE 1"

    async def queued(self, conn: Conn, stream_id: str, limit: int) -> list[QueuedSet]:
        """The oldest SETs of a poll stream not acknowledged yet (RFC 8936 §2.4: returned
        again until they are)."""
        rows = await conn.fetch(
            "SELECT e.id, e.jti, c.signing_alg, e.claims FROM ssf_events e"
            " JOIN ssf_streams s ON s.id = e.stream_id JOIN clients c ON c.client_id = s.client_id"
            " WHERE e.stream_id = $1 AND e.delivered_at IS NULL AND e.failed_at IS NULL"
            " ORDER BY e.id LIMIT $2",
            stream_id,
            limit,
        )
        return [
            QueuedSet(
                id=row["id"],
                jti=row["jti"],
                signing_alg=row["signing_alg"],
                claims=dict(row["claims"]),
            )
            for row in rows
        ]

    async def acknowledge(self, conn: Conn, stream_id: str, jtis: list[str]) -> int:
        status: str = await conn.execute(
            "UPDATE ssf_events SET delivered_at = now(), attempts = attempts + 1"
            " WHERE stream_id = $1 AND jti = ANY($2::text[]) AND delivered_at IS NULL"
            " AND failed_at IS NULL",
            stream_id,
            jtis,
        )
        return int(status.split()[-1])

    async def refused(self, conn: Conn, stream_id: str, jti: str, error: str) -> None:
        """A SET the receiver reported as an error (RFC 8936 §2.4 ``setErrs``): not sent
        again, its error kept for the operators."""
        await conn.execute(
            "UPDATE ssf_events SET failed_at = now(), attempts = attempts + 1, last_error = $3"
            " WHERE stream_id = $1 AND jti = $2 AND delivered_at IS NULL AND failed_at IS NULL",
            stream_id,
            jti,
            error,
        )

    async def delivery_states(self, conn: Conn) -> list[DeliveryState]:
        rows = await conn.fetch(
            "SELECT s.id AS stream_id, s.client_id, s.delivery_method, s.status, s.dropped,"
            " count(e.id) FILTER (WHERE e.delivered_at IS NULL AND e.failed_at IS NULL) AS pending,"
            " count(e.id) FILTER (WHERE e.delivered_at IS NOT NULL) AS delivered,"
            " count(e.id) FILTER (WHERE e.failed_at IS NOT NULL) AS failed,"
            " max(e.delivered_at) AS last_delivered_at,"
            " (SELECT l.last_error FROM ssf_events l WHERE l.stream_id = s.id"
            "  AND l.last_error IS NOT NULL ORDER BY l.id DESC LIMIT 1) AS last_error"
            " FROM ssf_streams s LEFT JOIN ssf_events e ON e.stream_id = s.id"
            " GROUP BY s.id ORDER BY s.client_id, s.id"
        )
        return [record(DeliveryState, row) for row in rows]

    async def forget_done(self, conn: Conn, older_than_seconds: float) -> int:
        """Delete SETs delivered or given up on long enough ago: their claims name people
        (GDPR Art. 5(1)(e), storage limitation)."""
        status: str = await conn.execute(
            "DELETE FROM ssf_events WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL)"
            " AND coalesce(delivered_at, failed_at) < now() - make_interval(secs => $1)",
            older_than_seconds,
        )
        return int(status.split()[-1])


signal_repository = SignalRepository()
