"""Bounds on what one request may cost, so that oversized bodies, deep JSON and slow clients
cannot exhaust a service (OWASP API Security Top 10 2023, API4 "Unrestricted Resource
Consumption").

``RequestLimits`` is pure ASGI, in front of the app:

- a body larger than ``max_body_bytes`` is refused with 413 before it is read whole: at once when
  ``Content-Length`` says so (RFC 9110 §15.5.14), else as soon as the chunks received pass it;
- a JSON body nested deeper than ``max_json_depth`` is refused with 400 before any parser
  recurses into it (Python's ``json`` recurses once per level);
- a client that stops sending its body for ``body_timeout`` seconds gets 408 (RFC 9110 §15.5.9).

Slow *headers* are bounded by the server itself (``kit.serve``).

Starlette's own ``max_body_size`` is not used: it lets a lying ``Content-Length`` through to the
app, and answers plain text (not problem+json) when a middleware reads the body.
"""

from __future__ import annotations

import asyncio
import json
import re
from itertools import accumulate
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigie_shared.kit.http import PROBLEM_JSON

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# Opening brackets become 1 and closing ones -1 (0xFF as a signed byte); the rest is dropped.
_SIGNS = bytes(1 if c in b"[{" else 0xFF if c in b"]}" else 0 for c in range(256))
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


class _Refused(StarletteHTTPException):
    """Raised from ``receive`` inside the app, it reaches the app's problem handlers like any
    HTTP error; raised here, before the app, it is answered here."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(status, detail)
        self.status = status
        self.title = title


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects in ``body`` (brackets inside strings do not count).

    No recursion and no Python loop per character: strings are cut out and every other byte
    but brackets dropped (regex and ``bytes.translate``, in C), then the running sum of +1/-1
    per bracket gives the depth (``itertools.accumulate``, in C): linear in the brackets, and
    next to nothing for a body with few of them."""
    brackets = _STRINGS.sub(b"", body).translate(_SIGNS, _NOT_BRACKETS)
    return max(accumulate(memoryview(brackets).cast("b")), default=0)


def _is_json(scope: Scope) -> bool:
    """JSON, or no content type at all (FastAPI then parses the body as JSON)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = bytes(value).split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


def _framing(scope: Scope) -> tuple[bool, int | None]:
    """Whether the request has a body at all, and its ``Content-Length`` if it says one. RFC
    9112 §6.3: a request with neither ``Content-Length`` nor ``Transfer-Encoding`` has none."""
    length: int | None = None
    has_body = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            has_body = True
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding":
            has_body = True
    return has_body, length


async def _problem(send: Send, scope: Scope, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is not read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = 1024 * 1024,
        max_json_depth: int = 32,
        body_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.body_timeout = body_timeout

    def _too_large(self) -> _Refused:
        return _Refused(
            413, "Content Too Large", f"The request body exceeds {self.max_body_bytes} bytes."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_body, length = _framing(scope)
        if not has_body:
            # Nothing to bound (most GETs): no wrapper on the hot path.
            await self.app(scope, receive, send)
            return
        if length is not None and length > self.max_body_bytes:
            await self._refuse(send, scope, self._too_large())
            return
        try:
            if _is_json(scope):
                # Bounded by max_body_bytes: reading it whole here is safe, and lets the depth
                # be checked before the app parses it.
                receive = await self._checked_json(receive)
            else:
                receive = self._bounded(receive)
        except _Refused as refused:
            await self._refuse(send, scope, refused)
            return

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            # Usually the app's own handlers answer a refusal raised from ``receive``; a
            # middleware that reads the body in a task of its own (Starlette's
            # BaseHTTPMiddleware) lets it out here instead.
            found = _refusal_in(error)
            if found is None or started:
                raise
            await self._refuse(send, scope, found)

    @staticmethod
    async def _refuse(send: Send, scope: Scope, refused: _Refused) -> None:
        await _problem(send, scope, refused.status, refused.title, str(refused.detail))

    async def _next(self, receive: Receive) -> Message:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for runs the receive in a task
            # of its own, one per body chunk.
            async with asyncio.timeout(self.body_timeout):
                return await receive()
        except TimeoutError:
            raise _Refused(
                408, "Request Timeout", "The request body did not arrive in time."
            ) from None

    def _bounded(self, receive: Receive) -> Receive:
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await self._next(receive)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise self._too_large()
            return message

        return bounded

    async def _checked_json(self, receive: Receive) -> Receive:
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await self._next(receive)
            if message["type"] != "http.request":
                # The client went away: hand that on as it is.
                return _replay([message])
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        few = body.count(b"[") + body.count(b"{") <= self.max_json_depth
        if not few and json_depth(body) > self.max_json_depth:
            raise _Refused(
                400,
                "Bad Request",
                f"The JSON body is nested deeper than {self.max_json_depth} levels.",
            )
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _refusal_in(error: BaseException) -> _Refused | None:
    """The refusal behind ``error``: itself, in a group, or a cause or context of either."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _Refused):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending: list[Any] = list(messages)

    async def replay() -> Message:
        if pending:
            message: Message = pending.pop(0)
            return message
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return replay
