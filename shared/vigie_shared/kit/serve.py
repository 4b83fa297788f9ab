"""Run one service's HTTP app (``python -m <service>``).

uvicorn runs on uvloop (libuv) with httptools (llhttp), its fastest event loop and HTTP parser:
with the pure-Python pair (asyncio's selector loop, h11) the HTTP layer alone cost the gateway
more CPU per client-credentials grant than the grant itself (``bench/bench_sso.py``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vigie_shared.kit.http import PROBLEM_JSON
from vigie_shared.kit.settings import ServiceSettings
from vigie_shared.kit.telemetry import configure_logging


class _HeadersTooLarge(Exception):
    """Raised from a parser callback to stop parsing a request whose head is over the limit."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with two bounds it lacks, against slow or greedy clients.

    - **Header deadline** ("slowloris"): uvicorn bounds idle keep-alive connections, not a
      client that sends its headers a byte at a time (or never): each such connection would be
      held forever. A connection must deliver complete headers within ``header_timeout`` seconds
      of being opened or of its previous response, else it is closed.
    - **Header size**: llhttp sets no limit on the request line and headers, which are held in
      memory until complete. Beyond ``max_header_bytes`` the request gets 431 (RFC 6585 §5) and
      the connection is closed.

    The body is bounded by ``kit.limits`` (size, depth, ``body_timeout``).
    """

    header_timeout = 10.0
    max_header_bytes = 32 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._refused = False

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._on_deadline)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _on_deadline(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection that did not send its headers in time")
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        # The parser error raised to stop a 431 must not add a 400 after it.
        if not self._refused:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            self._refuse_head()
            raise _HeadersTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # Complete headers: the request is the app's now (its body has ``body_timeout``).
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Re-armed only when the connection waits for a new request: not when a pipelined one
        # has already started (its headers are complete).
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()

    def _refuse_head(self) -> None:
        self._refused = True
        self._disarm()
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Request Header Fields Too Large",
                "status": 431,
                "detail": f"The request line and headers exceed {self.max_header_bytes} bytes.",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: " + PROBLEM_JSON.encode() + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def uvicorn_config(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    protocol = type(
        "ServiceHttpProtocol",
        (BoundedHttpToolsProtocol,),
        {"header_timeout": settings.header_timeout, "max_header_bytes": settings.max_header_bytes},
    )
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        http=protocol,
        loop="uvloop",
        # Slow clients are bounded: idle connections, headers (above), concurrency.
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_concurrency,
        # In-flight requests finish on SIGTERM before the lifespan stops the consumers.
        timeout_graceful_shutdown=15,
        # RFC 7239 §8.3: forwarded addresses can be forged by any client; believe them only
        # from the proxies the operator names (uvicorn's default trusts all of loopback).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or [],
        # Our handlers own the log format (JSON with trace ids); uvicorn's access log would
        # bypass it.
        log_config=None,
    )


def freeze_heap() -> None:
    """Keep what is alive once a service has started (modules, pydantic schemas, pools, the
    app) out of the garbage collector's full collections, which would otherwise traverse all of it
    again and again (``gc.freeze``, Python docs). Ingestion allocates enough per event to trigger
    them often (``bench/bench_audit.py`` measures the pipeline's CPU per event with it; figures in
    docs/audit-log.md). Only for a process that runs one service: frozen objects are still freed by
    reference counting, but never as cycles, so a test process that starts and stops many apps would
    keep the cycles each one leaves."""
    gc.collect()
    gc.freeze()


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # the lifespan (pools, consumers, relay) is up
            freeze_heap()


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    json_logs = (
        settings.log_json if settings.log_json is not None else settings.env != "development"
    )
    configure_logging(settings.log_level, json_logs=json_logs)
    _Server(uvicorn_config(app, settings)).run()
