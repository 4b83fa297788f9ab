"""Each test's streams go with it: streams take every subject, so one left behind would collect
the next tests' SETs, and a push stream would keep calling a receiver that is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from fastapi import FastAPI


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _streams_go_with_their_test(sso: FastAPI) -> AsyncIterator[None]:
    yield
    await sso.state.runtime.pool.execute("DELETE FROM ssf_streams")
