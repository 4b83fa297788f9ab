"""``Runtime.every``: the one way a service runs a job on a schedule (the gateway's grace sweep,
the audit log's checkpoints and retention, the DPO scheduler). A failed run must not end the
job, and stopping the service must end it before the pool it uses is closed."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from fastapi import FastAPI

from vigie_shared.kit.runtime import Periodic, Runtime, ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_job_runs_at_once_then_on_its_interval_and_survives_a_failed_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[float] = []

    async def job() -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 2:
            raise RuntimeError("the database blinked")

    task = asyncio.create_task(Periodic("test sweep", 0.05, job).run())
    with caplog.at_level(logging.ERROR, logger="vigie_shared.kit.runtime"):
        async with asyncio.timeout(5):
            while len(runs) < 4:
                await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    # asyncio's clock may fire a timer up to one clock resolution early.
    assert all(gap >= 0.045 for gap in gaps), gaps
    (failure,) = [r for r in caplog.records if "test sweep failed" in r.getMessage()]
    assert failure.exc_info is not None
    assert failure.exc_info[0] is RuntimeError


async def test_a_job_can_be_cancelled_in_the_middle_of_a_run() -> None:
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(Periodic("slow", 1.0, slow).run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _runtime(database_url: str, schema: str, kafka: str) -> Runtime:
    spec = ServiceSpec(
        name="periodictest",
        schema=schema,
        default_port=0,
        migrations=None,
        module="periodictest",
        settings_factory=ServiceSettings,
    )
    return Runtime(spec, ServiceSettings(database_url=database_url, kafka_bootstrap=kafka))


def test_an_interval_must_be_positive() -> None:
    runtime = _runtime("postgresql://unused/x", "s", "127.0.0.1:1")

    async def job() -> None:
        return None

    with pytest.raises(ValueError, match="positive"):
        runtime.every(0, "sweep", job)


@pytest.mark.broker
async def test_the_lifespan_starts_jobs_after_the_service_and_ends_them_before_the_pool(
    database_url: str, schema: str, kafka: str
) -> None:
    runtime = _runtime(database_url, schema, kafka)
    seen: list[bool] = []
    running = asyncio.Event()

    async def uses_the_pool() -> None:
        # The pool exists whenever the job runs: started after start(), ended before stop().
        seen.append(await runtime.pool.fetchval("SELECT true"))
        running.set()

    runtime.every(0.05, "probe", uses_the_pool)
    app = FastAPI(lifespan=runtime.lifespan)
    async with app.router.lifespan_context(app):
        async with asyncio.timeout(10):
            await running.wait()
        (job,) = [t for t in asyncio.all_tasks() if t.get_name() == "periodictest probe"]
    assert job.done()
    assert job.cancelled()
    assert seen
    assert all(seen)
    count = len(seen)
    await asyncio.sleep(0.2)
    assert len(seen) == count


@pytest.mark.broker
async def test_a_worker_alongside_runs_while_the_service_is_up_and_is_cancelled_at_stop(
    database_url: str, schema: str, kafka: str, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = _runtime(database_url, schema, kafka)
    started = asyncio.Event()
    ended: list[str] = []

    async def drains_a_queue() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    async def gives_up() -> None:
        raise RuntimeError("the queue's table is gone")

    runtime.alongside("queue", drains_a_queue)
    runtime.alongside("fragile", gives_up)
    app = FastAPI(lifespan=runtime.lifespan)
    with caplog.at_level(logging.ERROR, logger="vigie_shared.kit.runtime"):
        async with app.router.lifespan_context(app):
            async with asyncio.timeout(10):
                await started.wait()
            assert not ended
    assert ended == ["cancelled"]
    (failure,) = [r for r in caplog.records if "periodictest fragile stopped" in r.getMessage()]
    assert failure.exc_info is not None
