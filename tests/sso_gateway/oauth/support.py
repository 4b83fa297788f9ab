"""What the tests of the client cache and the access-token writer share: the service's pool,
counted."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import FastAPI


class CountingPool:
    """The service's pool, counting the connections taken from it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.acquired = 0

    def acquire(self) -> Any:
        self.acquired += 1
        return self.pool.acquire()


def pool_of(app: FastAPI) -> asyncpg.Pool:
    pool: asyncpg.Pool = app.state.runtime.pool
    return pool
