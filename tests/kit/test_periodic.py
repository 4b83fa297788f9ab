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


class RecordingRuntime(Runtime):
    """A runtime whose start and stop only say when they ran: what is under test is the order
    the lifespan keeps around them (the services' own tests run real sweeps on a real stack)."""

    def __init__(self) -> None:
        spec = ServiceSpec(
            name="periodictest",
            schema="unused",
            default_port=0,
            migrations=None,
            module="periodictest",
            settings_factory=ServiceSettings,
        )
        super().__init__(spec, ServiceSettings(kafka_bootstrap="127.0.0.1:1"))
        self.up = False
        self.log: list[str] = []

    async def start(self) -> None:
        self.log.append("start")
        self.up = True

    async def stop(self) -> None:
        self.log.append("stop")
        self.up = False


def test_an_interval_must_be_positive() -> None:
    runtime = RecordingRuntime()

    async def job() -> None:
        return None

    with pytest.raises(ValueError, match="positive"):
        runtime.every(0, "sweep", job)


async def test_the_lifespan_starts_jobs_after_the_service_and_ends_them_before_it_stops() -> None:
    runtime = RecordingRuntime()
    seen: list[bool] = []
    running = asyncio.Event()

    async def probe() -> None:
        seen.append(runtime.up)
        running.set()

    runtime.every(0.05, "probe", probe)
    app = FastAPI(lifespan=runtime.lifespan)
    async with app.router.lifespan_context(app):
        async with asyncio.timeout(10):
            await running.wait()
        (job,) = [t for t in asyncio.all_tasks() if t.get_name() == "periodictest probe"]
    assert runtime.log == ["start", "stop"]
    assert job.cancelled()
    assert seen
    assert all(seen)
    count = len(seen)
    await asyncio.sleep(0.2)
    assert len(seen) == count


async def test_a_worker_alongside_runs_while_the_service_is_up_and_is_cancelled_at_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = RecordingRuntime()
    started = asyncio.Event()
    ended: list[bool] = []

    async def drains_a_queue() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ended.append(runtime.up)
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
    # Cancelled while the service was still up, before its stop.
    assert ended == [True]
    assert runtime.log == ["start", "stop"]
    (failure,) = [r for r in caplog.records if "periodictest fragile stopped" in r.getMessage()]
    assert failure.exc_info is not None
