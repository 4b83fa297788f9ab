"""Changing a password: the holder's own change (the current password required) and an
administrator's reset. Each writes, in the transaction that replaces the hash, a CAEP
``credential-change`` SET per stream and ends the account's other sessions, whose
session-revoked SETs and back-channel logouts follow (``sessions.revoke``): a session opened
with the old password must not outlive it (OWASP Session Management Cheat Sheet, "Renew the
Session ID After Any Privilege Level Change")."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from enum import Enum

from pydantic import BaseModel, Field

from sso_gateway.config import Settings
from sso_gateway.login.repository import AttemptRepository, attempt_repository
from sso_gateway.login.throttle import Limits, wait_seconds
from sso_gateway.sessions.service import sessions
from sso_gateway.signals.service import signals
from sso_gateway.users.repository import UserRepository, user_repository
from sso_gateway.users.service import password_hasher, verify_password
from vigie_shared.kit.db import Conn

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""The bounds ``UserCreate`` puts on a first password."""


class NewPassword(BaseModel):
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH, repr=False)


class Refusal(Enum):
    WRONG_CURRENT = "wrong_current"
    MISMATCH = "mismatch"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    CHANGED_MEANWHILE = "changed_meanwhile"


class NoSuchAccount(Exception):
    """No live account by that id, username or e-mail."""


@dataclass(frozen=True)
class Throttled:
    """Too many wrong current passwords lately: ``seconds`` before the next is checked."""

    seconds: int


@dataclass(frozen=True)
class Changed:
    """A password replaced: how many other sessions it ended."""

    sessions_ended: int


def refusal_of(new: str, confirmation: str) -> Refusal | None:
    if new != confirmation:
        return Refusal.MISMATCH
    if len(new) < MIN_LENGTH:
        return Refusal.TOO_SHORT
    if len(new) > MAX_LENGTH:
        return Refusal.TOO_LONG
    return None


class PasswordService:
    def __init__(self, users: UserRepository, attempts: AttemptRepository) -> None:
        self._users = users
        self._attempts = attempts

    async def change(
        self,
        conn: Conn,
        settings: Settings,
        *,
        user_id: str,
        session_id: str,
        ip: str | None,
        current: str,
        new: str,
        confirmation: str,
    ) -> Changed | Refusal | Throttled:
        """The holder's change from their session ``session_id``, which stays open. The
        current password is an answer to guess like the login form's, from a session left
        open or stolen: its wrong guesses count in the login's budgets (login/throttle.py)."""
        refused = refusal_of(new, confirmation)
        if refused is not None:
            return refused
        identifier = f"password:{user_id}"
        async with conn.transaction():
            await self._attempts.lock(conn, account_key=user_id, ip=ip)
            budgets = await self._attempts.budgets(
                conn,
                user_id=user_id,
                identifier=identifier,
                ip=ip,
                device=None,
                window=settings.login_throttle_window,
            )
            wait = wait_seconds(budgets, Limits.of(settings), recognised=False)
            if wait > 0:
                return Throttled(math.ceil(wait))
            attempt = await self._attempts.begin(
                conn, identifier=identifier, ip=ip, user_id=user_id, device=None
            )
        account = await self._users.password_of(conn, user_id)
        # argon2id takes tens of milliseconds of CPU: worker threads, never the event loop;
        # and outside the transaction, which need not stay open meanwhile.
        ok = await asyncio.to_thread(
            verify_password, None if account is None else account.password_hash, current
        )
        if not ok or account is None:
            return Refusal.WRONG_CURRENT
        new_hash = await asyncio.to_thread(password_hasher.hash, new)
        async with conn.transaction():
            await self._attempts.succeed(conn, attempt)
            if not await self._users.replace_password_hash(
                conn, user_id, old_hash=account.password_hash, new_hash=new_hash
            ):
                return Refusal.CHANGED_MEANWHILE
            await signals.credential_changed(conn, settings, user_id=user_id, reset=False)
            ended = await sessions.revoke_all(
                conn, settings, user_id, "password_change", keep=session_id
            )
        return Changed(ended)

    async def reset(
        self, conn: Conn, settings: Settings, *, identifier: str, new: NewPassword
    ) -> tuple[str, Changed]:
        """An administrator's reset of the account named by id, username or e-mail: every
        session of it ends, since none was opened with the new password."""
        new_hash = await asyncio.to_thread(password_hasher.hash, new.password)
        async with conn.transaction():
            user_id = await self._users.id_of(conn, identifier)
            if user_id is None or not await self._users.replace_password_hash(
                conn, user_id, old_hash=None, new_hash=new_hash
            ):
                raise NoSuchAccount(identifier)
            await signals.credential_changed(conn, settings, user_id=user_id, reset=True)
            ended = await sessions.revoke_all(conn, settings, user_id, "password_reset")
        return user_id, Changed(ended)


passwords = PasswordService(user_repository, attempt_repository)
