"""Password login with throttling (login/throttle.py) and no user enumeration: the same
message, and about the same time, whether the account exists or not."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from sso_gateway.config import SOURCE, Settings
from sso_gateway.login.repository import AttemptRepository, attempt_repository
from sso_gateway.login.throttle import (
    Limits,
    new_device_cookie,
    recognised_device,
    wait_seconds,
)
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
    device_cookie: str | None = None
    throttled_seconds: int | None = None


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
        device_cookie: str | None = None,
    ) -> LoginResult:
        identifier = identifier.strip().lower()
        account = await user_repository.get_for_login(conn, identifier)
        user_id = None if account is None else account.id
        device = recognised_device(settings, user_id, device_cookie)
        async with conn.transaction():
            await self._attempts.lock(conn, account_key=user_id or f"name:{identifier}", ip=ip)
            budgets = await self._attempts.budgets(
                conn,
                user_id=user_id,
                identifier=identifier,
                ip=ip,
                device=device,
                window=settings.login_throttle_window,
            )
            wait = wait_seconds(budgets, Limits.of(settings), recognised=device is not None)
            if wait > 0:
                await outbox.enqueue(
                    conn,
                    new_event(
                        LoginFailed(user_id=user_id, reason="throttled", ip=ip),
                        subject=user_id or "anonymous",
                        source=SOURCE,
                    ),
                )
                return LoginResult(ok=False, throttled_seconds=math.ceil(wait))
            attempt = await self._attempts.begin(
                conn, identifier=identifier, ip=ip, user_id=user_id, device=device
            )
        # argon2id takes tens of milliseconds of CPU: a worker thread, never the event loop.
        ok = await asyncio.to_thread(
            verify_password, None if account is None else account.password_hash, password
        )
        rehashed = None
        if ok and account is not None and needs_rehash(account.password_hash):
            # The password is at hand only now: bring its hash to the current parameters
            # (before the transaction, which need not stay open while argon2id runs).
            rehashed = await asyncio.to_thread(password_hasher.hash, password)
        async with conn.transaction():
            if not ok or account is None:
                await outbox.enqueue(
                    conn,
                    new_event(
                        LoginFailed(user_id=user_id, reason="bad_credentials", ip=ip),
                        subject=user_id or "anonymous",
                        source=SOURCE,
                    ),
                )
                return LoginResult(ok=False)
            await self._attempts.succeed(conn, attempt)
            if rehashed is not None:
                await user_repository.set_password_hash(conn, account.id, rehashed)
            session_id, token = await sessions.open(conn, settings, user_id=account.id, ip=ip)
            await outbox.enqueue(
                conn,
                new_event(
                    LoginSucceeded(
                        user_id=account.id, client_id=client_id, session_id=session_id, ip=ip
                    ),
                    subject=account.id,
                    source=SOURCE,
                ),
            )
        return LoginResult(
            ok=True,
            session_id=session_id,
            session_token=token,
            device_cookie=device_cookie
            if device is not None
            else new_device_cookie(settings, account.id),
        )


login_service = LoginService(attempt_repository)
