"""Run one service's HTTP app (``python -m <service>``)."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from vigie_shared.kit.settings import ServiceSettings
from vigie_shared.kit.telemetry import configure_logging


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers.

    uvicorn bounds idle keep-alive connections but not a client that sends its headers a byte
    at a time (or never sends them): each such connection would be held forever ("slowloris").
    Here a connection must deliver complete headers within ``header_timeout`` seconds of being
    opened or of its previous response, else it is closed. The body is bounded by
    ``kit.limits`` (``body_timeout``); header size by h11 (``h11_max_incomplete_event_size``).
    """

    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._awaited_cycle: object | None = None

    def _arm(self, current: object | None) -> None:
        """Start the clock for the request after ``current`` (None: the first)."""
        self._disarm()
        self._awaited_cycle = current
        self._header_deadline = self.loop.call_later(self.header_timeout, self._on_deadline)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _on_deadline(self) -> None:
        self._header_deadline = None
        if self.cycle is self._awaited_cycle and not self.transport.is_closing():
            self.logger.info("closing a connection that did not send its headers in time")
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(None)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_deadline is not None and self.cycle is not self._awaited_cycle:
            # A new request cycle began: its headers are complete.
            self._disarm()

    def on_response_complete(self) -> None:
        finished = self.cycle
        super().on_response_complete()
        # A pipelined request may have started inside the call above: then it is not awaited.
        if (
            self.cycle is finished
            and not self.transport.is_closing()
            and self.conn.our_state is not h11.MUST_CLOSE
        ):
            self._arm(finished)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_config(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    protocol = type(
        "ServiceH11Protocol", (BoundedH11Protocol,), {"header_timeout": settings.header_timeout}
    )
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        http=protocol,
        # Slow clients are bounded (issue 8): idle connections, headers (above), concurrency.
        timeout_keep_alive=settings.keep_alive_timeout,
        limit_concurrency=settings.max_concurrency,
        # In-flight requests finish on SIGTERM before the lifespan stops the consumers.
        timeout_graceful_shutdown=15,
        proxy_headers=True,
        # Our handlers own the log format (JSON with trace ids); uvicorn's access log would
        # bypass it.
        log_config=None,
    )


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    json_logs = (
        settings.log_json if settings.log_json is not None else settings.env != "development"
    )
    configure_logging(settings.log_level, json_logs=json_logs)
    uvicorn.Server(uvicorn_config(app, settings)).run()
