"""Token rows, written with other requests' rows in one statement: a commit per token was, with
the client's round trip (``client_cache``), most of the client-credentials grant's cost beyond
HTTP itself at peak hours (``bench/bench_sso.py``). The token pairs of refresh and code grants
go the same way, so do the refresh tokens' rotations, and the same group commit records DPoP
proofs against replay (``oauth.dpop.ProofWriter``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg

from sso_gateway.oauth.records import RotatedRefreshToken, Rotation, TokenPair
from sso_gateway.oauth.repository import grant_repository

RowT = TypeVar("RowT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class AccessTokenRow:
    jti: str
    client_id: str
    user_id: str | None
    session_id: str | None
    family_id: str | None
    expires_at: datetime

    def values(self) -> tuple[str, str, str | None, str | None, str | None, datetime]:
        """In ``GrantRepository.insert_access_tokens``' column order."""
        return (
            self.jti,
            self.client_id,
            self.user_id,
            self.session_id,
            self.family_id,
            self.expires_at,
        )


class GroupCommit(Generic[RowT, ResultT]):
    """Group commit: a request awaits its row's commit, as before, but the rows of requests
    arriving while a write is in flight go together in the next one (one statement, one
    commit, one WAL flush). Nothing waits on a timer: a lone request is written at once;
    batches form only under load, where they pay off. ``_insert`` answers each row's result
    in order; a failed write fails every request of its batch."""

    TASK_NAME = "sso-group-commit"

    def __init__(self, max_batch: int = 500) -> None:
        self._max_batch = max_batch
        self._pool: asyncpg.Pool | None = None
        self._queue: list[tuple[RowT, asyncio.Future[ResultT]]] = []
        self._writer: asyncio.Task[None] | None = None

    def start(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, row: RowT) -> ResultT:
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        # Retrieved even when the request went away meanwhile, so that a failed write its
        # client no longer awaits is not reported again as "never retrieved".
        future.add_done_callback(_retrieve)
        self._queue.append((row, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name=self.TASK_NAME)
        # Shielded: a client that hangs up does not cancel the write other requests share.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Finish what is queued (at shutdown)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer

    async def _drain(self) -> None:
        if self._pool is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                results = await self._insert(self._pool, [row for row, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    self._fail_queued(exc)
                    raise
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)

    def _fail_queued(self, exc: BaseException) -> None:
        queued, self._queue = self._queue, []
        for _, future in queued:
            if not future.done():
                future.set_exception(exc)

    async def _insert(self, pool: asyncpg.Pool, rows: Sequence[RowT]) -> Sequence[ResultT]:
        raise NotImplementedError


class AccessTokenWriter(GroupCommit[AccessTokenRow, None]):
    """Access-token rows, group-committed (``GroupCommit``).

    A token is returned only once its row is committed (introspection and revocation find it,
    RFC 7662 §2.2, RFC 7009 §2.1); a failed write fails every request of its batch.
    """

    TASK_NAME = "sso-access-token-writer"

    async def _insert(self, pool: asyncpg.Pool, rows: Sequence[AccessTokenRow]) -> list[None]:
        async with pool.acquire() as conn:
            await grant_repository.insert_access_tokens(conn, [r.values() for r in rows])
        return [None] * len(rows)


class TokenPairWriter(GroupCommit[TokenPair, bool]):
    """Access and refresh token pairs, group-committed (``GroupCommit``): a grant answers only
    once its pair is committed, so that the refresh token it returns can be used at once.
    Each learns whether its pair was written: not when the refresh token it replaces was
    revoked meanwhile (``GrantRepository.insert_token_pairs``)."""

    TASK_NAME = "sso-token-pair-writer"

    async def _insert(self, pool: asyncpg.Pool, rows: Sequence[TokenPair]) -> list[bool]:
        async with pool.acquire() as conn:
            return await grant_repository.insert_token_pairs(conn, rows)


class RotationWriter(GroupCommit[Rotation, RotatedRefreshToken | None]):
    """The rotations of concurrent refresh grants, group-committed (``GroupCommit``) in one
    statement (``GrantRepository.rotate_refresh_tokens``): each request learns whether its
    token rotated, and it is used up once that is committed (RFC 9700 §4.14.2). A token two
    requests of one batch present is rotated for one of them; the other goes the long way,
    where the reuse is found, as it would have behind the first's row lock."""

    TASK_NAME = "sso-rotation-writer"

    def __init__(self, idle_seconds: float, max_batch: int = 500) -> None:
        super().__init__(max_batch)
        self._idle_seconds = idle_seconds

    async def _insert(
        self, pool: asyncpg.Pool, rows: Sequence[Rotation]
    ) -> list[RotatedRefreshToken | None]:
        async with pool.acquire() as conn:
            try:
                return await grant_repository.rotate_refresh_tokens(conn, self._idle_seconds, rows)
            except asyncpg.DeadlockDetectedError:
                # Two replicas' batches that hold the same tokens (one presented to both at
                # once) may lock them in opposite orders; PostgreSQL ends one. Its rotations
                # are asked again one per statement, as lone requests would be.
                return [
                    (await grant_repository.rotate_refresh_tokens(conn, self._idle_seconds, [r]))[0]
                    for r in rows
                ]


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
