"""Exponential backoff with jitter: the one wait-before-retrying rule of the kit.

A retry loop asks :meth:`Backoff.delay` for the wait before its n-th retry instead of doubling a
number of its own. The wait is drawn between half and all of the capped exponential ("equal
jitter"), so that consumers failing on the same outage do not all come back at the same instant,
and it never exceeds ``cap``: a long outage is retried at a steady pace, not ever more rarely.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

_MAX_EXPONENT = 64
"""Far beyond any cap: keeps ``factor ** n`` a finite float however long an outage lasts."""


@dataclass(frozen=True)
class Backoff:
    base: float = 0.05
    """Wait before the first retry (at most; jitter may halve it)."""
    cap: float = 30.0
    """Longest wait between two tries."""
    factor: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0 or self.factor < 1:
            raise ValueError("a backoff needs base >= 0, cap >= 0 and factor >= 1")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        exponent = min(max(retry - 1, 0), _MAX_EXPONENT)
        ceiling = min(self.cap, self.base * self.factor**exponent)
        if not self.jitter:
            return ceiling
        # Not a secret: spreading retries in time needs no cryptographic randomness.
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311

    async def sleep(self, retry: int) -> None:
        await asyncio.sleep(self.delay(retry))
