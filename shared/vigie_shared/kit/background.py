"""A service's own loops beside its consumers: jobs on a schedule (:class:`Periodic`) and workers
that wake as they choose. The runtime's lifespan starts them once the service is up and cancels
them before it stops, so that none of them outlives the pool or producer it uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# The runtime's logger: these lines are part of a service's lifecycle, whose levels and filters
# an operator sets on that one name.
log = logging.getLogger("vigie_shared.kit.runtime")


@dataclass(frozen=True)
class Periodic:
    """A job a service runs on a schedule while it is up (a sweep, a checkpoint)."""

    name: str
    interval: float
    job: Callable[[], Awaitable[object]]

    async def run(self) -> None:
        """At once (what fell due while the service was down), then every ``interval`` seconds.
        A failed run is logged and the next comes at its time: the schedule is the retry, and
        one bad run never ends the job. Cancellation (a ``BaseException``) ends it."""
        while True:
            try:
                await self.job()
            except Exception:
                log.exception("%s failed; next run in %g s", self.name, self.interval)
            await asyncio.sleep(self.interval)


async def _run_worker(name: str, worker: Callable[[], Awaitable[object]]) -> None:
    try:
        await worker()
    except Exception:
        # Its own loop handles what it can retry; what escapes it ends it, said loudly.
        log.exception("%s stopped on an error", name)
        raise
    log.error("%s returned while the service is up", name)


class BackgroundWorkers:
    """The periodic jobs and alongside workers of one service, each task named
    ``"<service> <name>"`` so that a log line or a task dump says whose it is."""

    def __init__(self, service: str) -> None:
        self._service = service
        self.periodic: list[Periodic] = []
        self._workers: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, interval: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
        # Refused when declared, not when started: a zero interval would spin the loop.
        if interval <= 0:
            raise ValueError(f"{name}: the interval must be positive, got {interval}")
        self.periodic.append(Periodic(f"{self._service} {name}", interval, job))

    def alongside(self, name: str, worker: Callable[[], Awaitable[object]]) -> None:
        self._workers.append((f"{self._service} {name}", worker))

    def start(self) -> None:
        """One task per job and per worker, on the running loop."""
        self._tasks = [asyncio.create_task(p.run(), name=p.name) for p in self.periodic]
        self._tasks += [
            asyncio.create_task(_run_worker(name, worker), name=name)
            for name, worker in self._workers
        ]

    async def stop(self) -> None:
        """Cancel every task and wait for each to end, whatever it raised: a worker that
        already failed was logged when it did."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
