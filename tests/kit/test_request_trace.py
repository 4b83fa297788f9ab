"""``RequestTraceContext``: without an exporter, a request still runs in a trace (the caller's,
continued, or a new one), so its logs and the events it writes carry a trace id."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from vigie_shared.kit.telemetry import RequestTraceContext, current_trace_id, inject_headers

pytestmark = pytest.mark.asyncio(loop_scope="session")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def seen_by_the_app(headers: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    seen: dict[str, object] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen["trace_id"] = current_trace_id()
        seen["event_headers"] = {k: v.decode() for k, v in inject_headers()}
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=RequestTraceContext(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/", headers=headers)).status_code == 204
    trace_id = seen["trace_id"]
    event_headers = seen["event_headers"]
    assert trace_id is None or isinstance(trace_id, str)
    assert isinstance(event_headers, dict)
    return trace_id, event_headers


async def test_the_callers_trace_is_continued_with_a_span_of_our_own() -> None:
    trace_id, event_headers = await seen_by_the_app({"traceparent": PARENT})
    assert trace_id == TRACE_ID
    version, propagated_trace, span_id, flags = event_headers["traceparent"].split("-")
    assert (version, propagated_trace, flags) == ("00", TRACE_ID, "01")
    assert span_id != "00f067aa0ba902b7"


async def test_an_unsampled_caller_stays_unsampled() -> None:
    _, event_headers = await seen_by_the_app({"traceparent": PARENT[:-2] + "00"})
    assert event_headers["traceparent"].endswith("-00")


async def test_without_a_caller_trace_each_request_starts_its_own() -> None:
    first, first_headers = await seen_by_the_app({})
    second, _ = await seen_by_the_app({})
    assert first is not None
    assert second is not None
    assert first != second
    assert first_headers["traceparent"].split("-")[1] == first


async def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    trace_id, _ = await seen_by_the_app({"traceparent": "00-zz-yy-01"})
    assert trace_id is not None
    assert trace_id != TRACE_ID
    assert current_trace_id() is None  # nothing leaks out of the request
