from __future__ import annotations

import asyncio
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sso_gateway.config import SOURCE
from sso_gateway.users.repository import UserRepository, user_repository
from sso_gateway.users.schemas import UserCreate, UserPublic
from vigie_shared.events import UserCreated, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn

# argon2id at the OWASP Password Storage Cheat Sheet's parameters: 19 MiB, 2 iterations, 1 lane (its
# first recommended configuration, which it rates equal in strength to 46 MiB x 1 or 7 MiB x 5,
# Keycloak's default). The library's default (RFC 9106 §4 "low memory": 64 MiB x 3, 4 lanes)
# costs several times the CPU per login: at the start of term, with tens of thousands of
# learners signing in within the hour, it made the login form the gateway's bottleneck
# (``bench/bench_sso.py``, figures in docs/). Hashes made with other parameters still verify
# (argon2 keeps them in the hash) and are rehashed at the next login (``needs_rehash``).
password_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class UserAlreadyExists(Exception):
    pass


# Verified against when the account does not exist, so that the answer takes as long either
# way (no user enumeration by timing).
_DUMMY_HASH = password_hasher.hash("vigie-no-such-account")


def verify_password(password_hash: str | None, password: str) -> bool:
    """argon2id verification; blocking (tens of ms): call it in a worker thread."""
    try:
        return password_hasher.verify(password_hash or _DUMMY_HASH, password) and bool(
            password_hash
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when a stored hash was made with other parameters than ``password_hasher``'s."""
    try:
        return password_hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


class UserService:
    def __init__(self, repository: UserRepository) -> None:
        self._repository = repository

    async def create(self, conn: Conn, data: UserCreate) -> UserPublic:
        """Create an account and announce it (``vigie.sso.user.created``) in the same
        transaction. Hashing runs off the event loop: argon2id is deliberately slow."""
        password_hash = await asyncio.to_thread(password_hasher.hash, data.password)
        async with conn.transaction():
            user = await self._repository.insert(
                conn,
                user_id=f"u-{uuid.uuid4().hex[:12]}",
                email=data.email,
                display_name=data.display_name,
                password_hash=password_hash,
                roles=data.roles,
                username=data.username,
            )
            if user is None:
                raise UserAlreadyExists(data.email)
            await outbox.enqueue(
                conn,
                new_event(
                    UserCreated(
                        user_id=user.id,
                        email=user.email,
                        display_name=user.display_name,
                        roles=user.roles,
                    ),
                    subject=user.id,
                    source=SOURCE,
                ),
            )
        return user


user = UserService(user_repository)
