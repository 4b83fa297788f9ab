"""``kit.serve``: a served process freezes its start-up heap once its lifespan is up."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI

from vigie_shared.kit import serve
from vigie_shared.kit.embedded import free_port


def test_freeze_heap_moves_the_live_heap_out_of_collection() -> None:
    # In a child process: freezing this test process would keep every later test's garbage.
    code = (
        "import gc; from vigie_shared.kit.serve import freeze_heap;"
        "before = gc.get_freeze_count(); freeze_heap(); print(before, gc.get_freeze_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert before == 0
    assert after > 10_000  # the modules, pydantic schemas and FastAPI the import brought


async def test_the_server_freezes_once_the_lifespan_has_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    states: list[str] = []
    lifespan_state = "not started"

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal lifespan_state
        lifespan_state = "started"
        yield
        lifespan_state = "stopped"

    monkeypatch.setattr(serve, "freeze_heap", lambda: states.append(lifespan_state))
    config = uvicorn.Config(
        FastAPI(lifespan=lifespan), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    server = serve._Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not task.done(), "the server stopped while starting"
                await asyncio.sleep(0.02)
        assert states == ["started"]
    finally:
        server.should_exit = True
        await task
    assert states == ["started"]  # once, not again at shutdown
