"""Hostile input is bounded: oversized bodies are refused with 413 before being read whole,
deep JSON with 400 before any parser recurses, and slow clients (headers or body) cannot hold a
connection. Every service, then a real uvicorn for what needs a socket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, Request

from tests.security.conftest import Services
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.limits import json_depth
from vigie_shared.kit.runtime import Runtime, ServiceSpec
from vigie_shared.kit.serve import uvicorn_config
from vigie_shared.kit.settings import ServiceSettings

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

# One route per service that takes a JSON body (the limits act before routing anyway).
JSON_ROUTES = {"sso": "/admin/users", "dpo": "/requests", "audit": "/checkpoints"}
LIMIT = 1024 * 1024


def apps(services: Services) -> dict[str, FastAPI]:
    return {"sso": services.sso, "dpo": services.dpo, "audit": services.audit}


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


@pytest.mark.parametrize("name", ["sso", "dpo", "audit"])
async def test_a_body_announced_too_large_is_refused_with_413(
    services: Services, name: str
) -> None:
    async with services.client(apps(services)[name]) as http:
        response = await http.post(
            JSON_ROUTES[name],
            content=b"{" + b" " * LIMIT + b"}",
            headers={"content-type": "application/json"},
        )
        form = await http.post(
            "/token",
            content=b"a=" + b"b" * LIMIT,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert_problem(response, 413)
    assert_problem(form, 413)


@pytest.mark.parametrize("name", ["sso", "dpo", "audit"])
async def test_a_chunked_body_growing_too_large_is_refused_with_413(
    services: Services, name: str
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    async with services.client(apps(services)[name]) as http:
        response = await http.post(
            JSON_ROUTES[name], content=chunks(), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


@pytest.mark.parametrize("name", ["sso", "dpo", "audit"])
async def test_deeply_nested_json_is_a_400_problem_not_a_recursion_error(
    services: Services, name: str
) -> None:
    async with services.client(apps(services)[name]) as http:
        very = await http.post(
            JSON_ROUTES[name], content=deep(200_000), headers={"content-type": "application/json"}
        )
        just_over = await http.post(
            JSON_ROUTES[name], content=deep(33), headers={"content-type": "application/json"}
        )
        untyped = await http.post(JSON_ROUTES[name], content=deep(50_000))
    assert_problem(very, 400)
    assert "nested" in very.json()["detail"]
    assert_problem(just_over, 400)
    assert_problem(untyped, 400)


async def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'["\\"[[[", [[]]]') == 3
    assert json_depth(b"42") == 0


# A real server: sockets, Content-Length that lies, clients that stall.


def kit_app() -> tuple[FastAPI, ServiceSettings]:
    """A bare app with what every service gets from the kit (``Runtime.install``)."""
    settings = ServiceSettings(
        http_port=free_port(),
        header_timeout=1.0,
        body_timeout=1.0,
        keep_alive_timeout=5,
        log_level="WARNING",
    )
    runtime = Runtime(
        ServiceSpec(
            name="limits_test",
            schema="limits_test",
            default_port=0,
            migrations=None,
            module="limits_test",
            settings_factory=lambda: settings,
        ),
        settings,
    )
    app = FastAPI()
    runtime.install(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    return app, settings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server() -> AsyncIterator[tuple[str, int]]:
    app, settings = kit_app()
    config = uvicorn_config(app, settings)
    config.lifespan = "off"
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    deadline = time.monotonic() + 10
    while not running.started:
        assert not task.done(), "server stopped"
        assert time.monotonic() < deadline, "server did not start"
        await asyncio.sleep(0.05)
    yield settings.http_host, settings.http_port
    running.should_exit = True
    await task


@contextlib.contextmanager
def connection(address: tuple[str, int]) -> Iterator[socket.socket]:
    sock = socket.create_connection(address, timeout=5)
    try:
        yield sock
    finally:
        sock.close()


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """What the server sent, and whether it closed the connection before ``deadline``."""
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


async def test_a_lying_content_length_is_refused_at_once_without_waiting_for_the_body(
    server: tuple[str, int],
) -> None:
    def attempt() -> tuple[bytes, float]:
        with connection(server) as sock:
            started = time.monotonic()
            sock.sendall(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1073741824\r\n\r\n{"
            )
            received, _ = read_until_closed(sock, time.monotonic() + 5)
            return received, time.monotonic() - started

    received, elapsed = await asyncio.to_thread(attempt)
    assert received.startswith(b"HTTP/1.1 413"), received[:200]
    assert b"application/problem+json" in received
    # The gigabyte announced was never awaited.
    assert elapsed < 2


async def test_a_client_trickling_its_headers_is_disconnected(server: tuple[str, int]) -> None:
    def attempt() -> tuple[bool, float]:
        with connection(server) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
            closed = False
            # One header byte every 0.2 s: each resets any idle timer, none completes a request.
            for _ in range(40):
                try:
                    sock.sendall(b"X")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                _, closed = read_until_closed(sock, time.monotonic() + 0.2)
                if closed:
                    break
            return closed, time.monotonic() - started

    closed, elapsed = await asyncio.to_thread(attempt)
    assert closed
    assert elapsed < 4  # header_timeout is 1 s


async def test_a_silent_connection_is_disconnected(server: tuple[str, int]) -> None:
    def attempt() -> bool:
        with connection(server) as sock:
            _, closed = read_until_closed(sock, time.monotonic() + 4)
            return closed

    assert await asyncio.to_thread(attempt)


async def test_a_stalled_body_gets_408(server: tuple[str, int]) -> None:
    def attempt() -> bytes:
        with connection(server) as sock:
            sock.sendall(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 100\r\n\r\n0123456789"
            )
            received, _ = read_until_closed(sock, time.monotonic() + 5)
            return received

    received = await asyncio.to_thread(attempt)
    assert received.startswith(b"HTTP/1.1 408"), received[:200]


async def test_a_well_behaved_client_is_served_as_before(server: tuple[str, int]) -> None:
    host, port = server
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
        first = await http.post("/echo", content=b"x" * 1000)
        second = await http.post("/echo", json={"a": [1, 2, 3]})
    assert first.json() == {"received": 1000}
    assert second.json() == {"received": len(b'{"a":[1,2,3]}')}


async def test_headers_over_the_limit_get_431_and_the_connection_closes(
    server: tuple[str, int],
) -> None:
    def attempt() -> tuple[bytes, bool]:
        with connection(server) as sock:
            # 40 KiB of headers against the default 32 KiB, sent whole: the parser must stop.
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: t\r\n"
                + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(40))
                + b"\r\n"
            )
            return read_until_closed(sock, time.monotonic() + 5)

    received, closed = await asyncio.to_thread(attempt)
    assert received.startswith(b"HTTP/1.1 431"), received[:200]
    assert b"application/problem+json" in received
    assert received.count(b"HTTP/1.1") == 1  # no 400 after it
    assert closed


async def test_headers_under_the_limit_are_served(server: tuple[str, int]) -> None:
    host, port = server
    filler = {f"x-filler-{i}": "a" * 1000 for i in range(20)}
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
        response = await http.post("/echo", content=b"ok", headers=filler)
    assert response.json() == {"received": 2}
