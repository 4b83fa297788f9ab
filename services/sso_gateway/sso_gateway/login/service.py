"""Password login with throttling (per account and per IP) and no user enumeration: the same
message, and about the same time, whether the account exists or not."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sso_gateway.config import SOURCE, Settings
from sso_gateway.login.repository import AttemptRepository, attempt_repository
from sso_gateway.sessions.service import sessions
from sso_gateway.users.repository import user_repository
from sso_gateway.users.service import needs_rehash, password_hasher, verify_password
from vigie_shared.events import LoginFailed, LoginSucceeded, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    session_id: str | None = None
    session_token: str | None = None
    throttled_minutes: int | None = None


class LoginService:
    def __init__(self, attempts: AttemptRepository) -> None:
        self._attempts = attempts

    async def login(
        self,
        conn: Conn,
        settings: Settings,
        *,
        identifier: str,
        password: str,
        ip: str | None,
        client_id: str | None,
    ) -> LoginResult:
        identifier = identifier.strip().lower()
        account_failures, ip_failures = await self._attempts.recent_failures(
            conn, identifier=identifier, ip=ip, window=settings.login_throttle_window
        )
        row = await user_repository.get_for_login(conn, identifier)
        user_id = None if row is None else row["id"]
        if (
            account_failures >= settings.login_max_failures_per_account
            or ip_failures >= settings.login_max_failures_per_ip
        ):
            # Throttled by the submitted identifier, not by account: an unknown name is
            # throttled the same way, so throttling reveals nothing either.
            async with conn.transaction():
                await outbox.enqueue(
                    conn,
                    new_event(
                        LoginFailed(user_id=user_id, reason="throttled", ip=ip),
                        subject=user_id or "anonymous",
                        source=SOURCE,
                    ),
                )
            minutes = max(1, settings.login_throttle_window // 60)
            return LoginResult(ok=False, throttled_minutes=minutes)
        # argon2id takes tens of milliseconds of CPU: a worker thread, never the event loop.
        ok = await asyncio.to_thread(
            verify_password, None if row is None else row["password_hash"], password
        )
        rehashed = None
        if ok and row is not None and needs_rehash(row["password_hash"]):
            # The password is at hand only now: bring its hash to the current parameters
            # (before the transaction, which need not stay open while argon2id runs).
            rehashed = await asyncio.to_thread(password_hasher.hash, password)
        async with conn.transaction():
            await self._attempts.record(conn, identifier=identifier, ip=ip, user_id=user_id, ok=ok)
            if not ok or row is None:
                await outbox.enqueue(
                    conn,
                    new_event(
                        LoginFailed(user_id=user_id, reason="bad_credentials", ip=ip),
                        subject=user_id or "anonymous",
                        source=SOURCE,
                    ),
                )
                return LoginResult(ok=False)
            if rehashed is not None:
                await user_repository.set_password_hash(conn, row["id"], rehashed)
            session_id, token = await sessions.open(conn, settings, user_id=row["id"], ip=ip)
            await outbox.enqueue(
                conn,
                new_event(
                    LoginSucceeded(
                        user_id=row["id"], client_id=client_id, session_id=session_id, ip=ip
                    ),
                    subject=row["id"],
                    source=SOURCE,
                ),
            )
        return LoginResult(ok=True, session_id=session_id, session_token=token)


login_service = LoginService(attempt_repository)
