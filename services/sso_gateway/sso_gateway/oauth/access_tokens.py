"""Token rows, written with other requests' rows in one statement: a commit per token was, with
the client's round trip (``client_cache``), most of the client-credentials grant's cost beyond
HTTP itself at peak hours (``bench/bench_sso.py``). The token pairs of refresh and code grants
go the same way, and the same group commit records DPoP proofs against replay
(``oauth.dpop.ProofWriter``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg

from sso_gateway.oauth.records import TokenPair
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


class TokenPairWriter(GroupCommit[TokenPair, None]):
    """Access and refresh token pairs, group-committed (``GroupCommit``): a grant answers only
    once its pair is committed, so that the refresh token it returns can be used at once."""

    TASK_NAME = "sso-token-pair-writer"

    async def _insert(self, pool: asyncpg.Pool, rows: Sequence[TokenPair]) -> list[None]:
        async with pool.acquire() as conn:
            await grant_repository.insert_token_pairs(conn, rows)
        return [None] * len(rows)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
