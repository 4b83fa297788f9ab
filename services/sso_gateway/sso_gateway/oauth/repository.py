"""All SQL on authorization codes, refresh tokens and issued access tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sso_gateway.oauth.models import AuthorizationCode, RefreshToken
from sso_gateway.oauth.records import (
    Granted,
    RevokedAccessToken,
    RotatedRefreshToken,
    Rotation,
    TokenPair,
)
from sso_gateway.sessions.repository import IDLE
from sso_gateway.users.schemas import UserPublic
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn, arrays, columns, record

_USABLE = (
    "r.revoked_at IS NULL AND r.expires_at > now()"
    " AND u.id = r.user_id AND u.erased_at IS NULL AND u.restricted_at IS NULL"
    " AND s.id = r.session_id AND s.revoked_at IS NULL AND s.expires_at > now()"
    f" AND NOT {IDLE}"
)
"""Refresh token ``r`` (joined to its user ``u`` and session ``s``) may be used: not revoked
nor expired, its account neither erased nor restricted, its session live (not ended, not past
its end, not idle for ``$2`` seconds). Constant text; no value is formatted into it."""

_ROTATE = (
    "UPDATE refresh_tokens r SET used_at = now()"  # noqa: S608 (IDLE: constant, window in $2)
    " FROM users u, sessions s"
    " WHERE r.token_hash = $1 AND r.client_id = $3 AND r.used_at IS NULL"
    f" AND {_USABLE}"
)
"""Mark refresh token ``$1`` of client ``$3`` used, if it has not been and may be
(``_USABLE``): rotation, each token good for one use (RFC 9700 §4.14.2)."""

_ROTATE_MANY = (
    "UPDATE refresh_tokens r SET used_at = now()"  # noqa: S608 (IDLE: constant, window in $2)
    " FROM users u, sessions s,"
    " unnest($1::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
    " AS q(ord, token_hash, client_id, scope, resource, dpop_jkt)"
    " WHERE r.token_hash = q.token_hash AND r.client_id = q.client_id AND r.used_at IS NULL"
    f" AND {_USABLE}"
    # Scope tokens hold no space (RFC 6749 §3.3): joined by one, split back losslessly.
    " AND string_to_array(r.scope, ' ') @> string_to_array(q.scope, ' ')"
    " AND (q.resource IS NULL OR r.resource = q.resource)"
    " AND (r.dpop_jkt IS NULL OR r.dpop_jkt = q.dpop_jkt)"
    " RETURNING q.ord, r.*, u.email, u.display_name, u.roles, u.created_at, u.username,"
    " EXISTS (SELECT 1 FROM access_states a WHERE a.learner_id = r.user_id"
    " AND a.suspended) AS suspended"
)
"""``_ROTATE`` for many tokens at once, each with its request's conditions (``Rotation``):
``$1`` each one's place in the batch, ``$2`` the idle window, then the rotations' fields as
arrays."""


class GrantRepository:
    async def insert_code(
        self,
        conn: Conn,
        *,
        code_hash: str,
        client_id: str,
        user_id: str,
        session_id: str,
        family_id: str,
        redirect_uri: str,
        scope: str,
        nonce: str | None,
        code_challenge: str | None,
        code_challenge_method: str | None,
        auth_time: datetime,
        expires_at: datetime,
        resource: str | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, session_id,"
            " family_id, redirect_uri, scope, nonce, code_challenge, code_challenge_method,"
            " auth_time, expires_at, resource)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            code_hash,
            client_id,
            user_id,
            session_id,
            family_id,
            redirect_uri,
            scope,
            nonce,
            code_challenge,
            code_challenge_method,
            auth_time,
            expires_at,
            resource,
        )

    async def consume_code(
        self, conn: Conn, code_hash: str, client_id: str
    ) -> AuthorizationCode | None:
        """Mark the code used and return it, in one statement: two concurrent redemptions
        cannot both succeed (RFC 6749 §4.1.2: a code is used at most once)."""
        row = await conn.fetchrow(
            "UPDATE authorization_codes c SET used_at = now()"
            " FROM sessions s, users u"
            " WHERE c.code_hash = $1 AND c.client_id = $2 AND c.used_at IS NULL"
            " AND c.expires_at > now() AND s.id = c.session_id AND s.revoked_at IS NULL"
            " AND u.id = c.user_id AND u.erased_at IS NULL AND u.restricted_at IS NULL"
            " RETURNING c.*",
            code_hash,
            client_id,
        )
        return None if row is None else record(AuthorizationCode, row)

    async def peek_code(self, conn: Conn, code_hash: str, client_id: str) -> Granted | None:
        """Read only: what a code of this client grants, without using it up."""
        row = await conn.fetchrow(
            "SELECT used_at IS NULL AND expires_at > now() AS usable, resource, scope,"
            " code_challenge, code_challenge_method"
            " FROM authorization_codes WHERE code_hash = $1 AND client_id = $2",
            code_hash,
            client_id,
        )
        # A code is not bound to a DPoP key (RFC 9449 §10's dpop_jkt is not supported): the
        # token request's proof binds what it yields.
        return None if row is None else Granted(**dict(row))

    async def peek_refresh_token(
        self, conn: Conn, token_hash: str, client_id: str
    ) -> Granted | None:
        """Read only: what a refresh token of this client grants, without rotating it."""
        row = await conn.fetchrow(
            "SELECT used_at IS NULL AND revoked_at IS NULL AND expires_at > now() AS usable,"
            " resource, scope, dpop_jkt"
            " FROM refresh_tokens WHERE token_hash = $1 AND client_id = $2",
            token_hash,
            client_id,
        )
        if row is None:
            return None
        return Granted(
            usable=row["usable"],
            resource=row["resource"],
            scope=row["scope"],
            dpop_jkt=row["dpop_jkt"],
        )

    async def used_code_family(self, conn: Conn, code_hash: str) -> str | None:
        family: str | None = await conn.fetchval(
            "SELECT family_id FROM authorization_codes WHERE code_hash = $1"
            " AND used_at IS NOT NULL",
            code_hash,
        )
        return family

    async def nonce_used(self, conn: Conn, client_id: str, nonce: str) -> bool:
        found: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM authorization_codes WHERE client_id = $1 AND nonce = $2)",
            client_id,
            nonce,
        )
        return found

    async def insert_refresh_token(
        self,
        conn: Conn,
        *,
        token_hash: str,
        family_id: str,
        client_id: str,
        user_id: str,
        session_id: str,
        scope: str,
        auth_time: datetime,
        expires_at: datetime,
    ) -> None:
        await conn.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, session_id,"
            " scope, auth_time, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            token_hash,
            family_id,
            client_id,
            user_id,
            session_id,
            scope,
            auth_time,
            expires_at,
        )

    async def insert_token_pairs(self, conn: Conn, pairs: Sequence[TokenPair]) -> list[bool]:
        """Access tokens and the refresh tokens issued with them, in one statement however
        many (``TokenPairWriter`` writes those of concurrent grants together): atomic by
        itself, one round trip where BEGIN, two INSERTs per pair and COMMIT took many.

        Whether each pair was written, in order. A pair whose grant was revoked since its
        refresh token rotated or its code was redeemed (``TokenPair.replaces``) is not: a
        concurrent request presented that token or code again and revoked the family (RFC
        9700 §4.14.2, RFC 6749 §4.1.2), and the pair would be the live token that revocation
        is to end. The token or code replaced is locked (``FOR SHARE``) until the pairs are
        committed, and ``revoke_family`` locks the family first: a revocation either comes
        first, and the pair is not written, or waits for it, and revokes it too."""
        if not pairs:
            return []
        # The columns of ``TokenPair`` in field order, one array each: $1 jti,
        # $2 access_expires_at, $3 token_hash, $4 family_id, $5 client_id, $6 user_id,
        # $7 session_id, $8 scope, $9 auth_time, $10 expires_at, $11 resource, $12 dpop_jkt,
        # $13 replaces.
        written = await conn.fetch(
            "WITH pair AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[],"
            " $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[],"
            " $10::timestamptz[], $11::text[], $12::text[], $13::text[]) AS p(jti,"
            " access_expires_at, token_hash, family_id, client_id, user_id, session_id, scope,"
            " auth_time, expires_at, resource, dpop_jkt, replaces)),"
            " replaced AS (SELECT token_hash FROM refresh_tokens WHERE token_hash = ANY($13)"
            " AND revoked_at IS NULL FOR SHARE),"
            " redeemed AS (SELECT code_hash FROM authorization_codes WHERE code_hash = ANY($13)"
            " AND revoked_at IS NULL FOR SHARE),"
            " live AS (SELECT * FROM pair WHERE replaces IS NULL"
            " OR replaces IN (SELECT token_hash FROM replaced)"
            " OR replaces IN (SELECT code_hash FROM redeemed)),"
            " access AS (INSERT INTO access_tokens (jti, client_id, user_id, session_id,"
            " family_id, expires_at) SELECT jti, client_id, user_id, session_id, family_id,"
            " access_expires_at FROM live)"
            " INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, session_id,"
            " scope, auth_time, expires_at, resource, dpop_jkt)"
            " SELECT token_hash, family_id, client_id, user_id, session_id, scope, auth_time,"
            " expires_at, resource, dpop_jkt FROM live RETURNING token_hash",
            *columns(TokenPair, pairs),
        )
        stored = {row["token_hash"] for row in written}
        return [pair.token_hash in stored for pair in pairs]

    async def consume_refresh_token(
        self, conn: Conn, token_hash: str, client_id: str, idle_seconds: float
    ) -> RefreshToken | None:
        """Rotate: mark the token used and return it, atomically (RFC 9700 §4.14.2); only
        while its session lives (not revoked, not past its end, not idle for
        ``idle_seconds``), so that a refresh between a session's end and the sweep that
        reports it neither works nor revives the session."""
        row = await conn.fetchrow(f"{_ROTATE} RETURNING r.*", token_hash, idle_seconds, client_id)
        return None if row is None else record(RefreshToken, row)

    async def rotate_refresh_tokens(
        self, conn: Conn, idle_seconds: float, asked: Sequence[Rotation]
    ) -> list[RotatedRefreshToken | None]:
        """``consume_refresh_token`` for each rotation asked, in one statement, only where the
        token also grants what its request asks (``Rotation``), with its owner and their
        suspension read by the same statement; an answer per rotation, in order. None where a
        condition fails: then nothing was used up. A token asked twice is marked used once
        (an UPDATE changes a row once, whatever it is joined to): one of the two gets None."""
        if not asked:
            return []
        rows = await conn.fetch(
            _ROTATE_MANY,
            list(range(len(asked))),
            idle_seconds,
            *arrays(
                [
                    (a.token_hash, a.client_id, " ".join(a.scope), a.resource, a.dpop_jkt)
                    for a in asked
                ],
                5,
            ),
        )
        rotated: list[RotatedRefreshToken | None] = [None] * len(asked)
        for row in rows:
            owner = UserPublic(
                id=row["user_id"],
                email=row["email"],
                display_name=row["display_name"],
                roles=row["roles"],
                created_at=row["created_at"],
                username=row["username"],
            )
            rotated[row["ord"]] = RotatedRefreshToken(
                token=record(RefreshToken, row), owner=owner, suspended=row["suspended"]
            )
        return rotated

    async def retry_rotation(
        self, conn: Conn, token_hash: str, client_id: str, idle_seconds: float
    ) -> RefreshToken | None:
        """A rotated-out token presented again while the token that replaced it was never
        used: the client lost the answer that carried it (FAPI 2.0 Security Profile §5.3.2.1:
        rotation only where such a retry succeeds). The unused successor is revoked and the
        token returned, to be rotated again; None when its successor was used (a replay) or
        its session, account or lifetime is over."""
        row = await conn.fetchrow(
            "WITH successor AS ("  # noqa: S608 (IDLE: constant, window in $2)
            " UPDATE refresh_tokens n SET revoked_at = now()"
            " FROM refresh_tokens r, users u, sessions s"
            " WHERE r.token_hash = $1 AND r.client_id = $3 AND r.used_at IS NOT NULL"
            f" AND {_USABLE}"
            " AND n.family_id = r.family_id AND n.issued_at >= r.used_at"
            " AND n.used_at IS NULL AND n.revoked_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM refresh_tokens m WHERE m.family_id = r.family_id"
            " AND m.issued_at >= r.used_at AND m.used_at IS NOT NULL)"
            " RETURNING n.family_id)"
            " SELECT r.* FROM refresh_tokens r WHERE r.token_hash = $1"
            " AND EXISTS (SELECT 1 FROM successor)",
            token_hash,
            idle_seconds,
            client_id,
        )
        return None if row is None else record(RefreshToken, row)

    async def get_refresh_token(self, conn: Conn, token_hash: str) -> RefreshToken | None:
        row = await conn.fetchrow("SELECT * FROM refresh_tokens WHERE token_hash = $1", token_hash)
        return None if row is None else record(RefreshToken, row)

    async def revoke_family(self, conn: Conn, family_id: str) -> list[RevokedAccessToken]:
        """Revoke a grant's refresh and access tokens; returns the access tokens revoked now
        that have not expired (the ones resource servers must be told about); its code is marked
        revoked too. In the caller's transaction: the family's refresh tokens are locked first,
        and its code by the statement after (an ``UPDATE`` locks the rows it changes), which
        waits for a token pair being written in place of one of them (``insert_token_pairs``);
        the revocation of the refresh tokens, a statement after, then sees that pair and ends
        it too."""
        await conn.execute(
            "SELECT 1 FROM refresh_tokens WHERE family_id = $1 FOR UPDATE",
            family_id,
        )
        await conn.execute(
            "UPDATE authorization_codes SET revoked_at = now()"
            " WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )
        await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now()"
            " WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )
        rows = await conn.fetch(
            "UPDATE access_tokens SET revoked_at = now()"
            " WHERE family_id = $1 AND revoked_at IS NULL"
            " RETURNING jti, expires_at, user_id, client_id",
            family_id,
        )
        revoked = [record(RevokedAccessToken, row) for row in rows]
        return [token for token in revoked if token.expires_at > utcnow()]

    async def revoke_session_tokens(self, conn: Conn, session_id: str) -> None:
        await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now()"
            " WHERE session_id = $1 AND revoked_at IS NULL",
            session_id,
        )
        await conn.execute(
            "UPDATE access_tokens SET revoked_at = now()"
            " WHERE session_id = $1 AND revoked_at IS NULL",
            session_id,
        )

    async def insert_access_tokens(
        self,
        conn: Conn,
        rows: Sequence[tuple[str, str, str | None, str | None, str | None, datetime]],
    ) -> None:
        """Many rows in one statement (``AccessTokenWriter``): (jti, client_id, user_id,
        session_id, family_id, expires_at)."""
        if not rows:
            return
        await conn.execute(
            "INSERT INTO access_tokens (jti, client_id, user_id, session_id, family_id,"
            " expires_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
            " $5::text[], $6::timestamptz[])",
            *(list(column) for column in zip(*rows, strict=True)),
        )

    async def access_token_revoked(self, conn: Conn, jti: str) -> bool:
        """True when revoked or unknown (a token we did not record is not ours)."""
        revoked: bool | None = await conn.fetchval(
            "SELECT revoked_at IS NOT NULL FROM access_tokens WHERE jti = $1", jti
        )
        return revoked is not False

    async def revoke_access_token(self, conn: Conn, jti: str) -> RevokedAccessToken | None:
        """Revoke one access token; returns it when it was live until now."""
        row = await conn.fetchrow(
            "UPDATE access_tokens SET revoked_at = now() WHERE jti = $1 AND revoked_at IS NULL"
            " AND expires_at > now() RETURNING jti, expires_at, user_id, client_id",
            jti,
        )
        return None if row is None else record(RevokedAccessToken, row)

    async def insert_dpop_proofs(
        self, conn: Conn, rows: Sequence[tuple[str, datetime]]
    ) -> set[str]:
        """Record DPoP proofs (proof_hash, expires_at), many in one statement; the hashes that
        were not recorded before (RFC 9449 §11.1): two replicas cannot both record one."""
        if not rows:
            return set()
        inserted = await conn.fetch(
            "INSERT INTO dpop_proofs (proof_hash, expires_at)"
            " SELECT * FROM unnest($1::text[], $2::timestamptz[])"
            " ON CONFLICT (proof_hash) DO NOTHING RETURNING proof_hash",
            *(list(column) for column in zip(*rows, strict=True)),
        )
        return {row["proof_hash"] for row in inserted}

    async def delete_expired_dpop_proofs(self, conn: Conn) -> int:
        """Forget the proofs that could no longer be accepted anyway; how many were."""
        status: str = await conn.execute("DELETE FROM dpop_proofs WHERE expires_at <= now()")
        return int(status.rsplit(" ", 1)[-1])


grant_repository = GrantRepository()
