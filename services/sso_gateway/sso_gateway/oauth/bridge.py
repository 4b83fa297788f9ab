"""The bridge between Authlib's synchronous server API and asyncpg: how a storage hook gets
what it needs when Authlib runs on the event loop (``Load``: loaded, then Authlib runs
again) and how it knows where it runs (``inline_request``, ``on_loop``). The provider
(``oauth.server.Provider``) drives it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from sso_gateway.oauth.requests import Request
from vigie_shared.kit.db import Conn

inline_request: ContextVar[Request | None] = ContextVar("vigie_inline_request", default=None)
MAX_PASSES = 6


class Load(Exception):
    """Raised by a storage hook while Authlib runs on the event loop (``token_response``) when
    what it needs is not loaded yet: the loop loads it, then runs Authlib again, which then
    finds it in ``Request.loaded``. Authlib's steps before a hook are pure (parsing, client
    authentication against the preloaded client), so running them again changes nothing, and
    each load runs once per request: a consumed code or refresh token is consumed once.

    ``work`` runs on a connection of the pool; ``grouped``, when given, does the same work
    with other requests' in one statement (an ``access_tokens.GroupCommit``, which takes a
    connection of its own) and is run instead, holding no connection while it waits."""

    def __init__(
        self,
        key: str,
        work: Callable[[Conn], Coroutine[Any, Any, Any]],
        grouped: Callable[[], Coroutine[Any, Any, Any]] | None = None,
    ) -> None:
        super().__init__(key)
        self.key = key
        self.work = work
        self.grouped = grouped


def on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
