"""Run one service's HTTP app (``python -m <service>``)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from vigie_shared.kit.settings import ServiceSettings
from vigie_shared.kit.telemetry import configure_logging


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    json_logs = (
        settings.log_json if settings.log_json is not None else settings.env != "development"
    )
    configure_logging(settings.log_level, json_logs=json_logs)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        # In-flight requests finish on SIGTERM before the lifespan stops the consumers.
        timeout_graceful_shutdown=15,
        proxy_headers=True,
        # Our handlers own the log format (JSON with trace ids); uvicorn's access log would
        # bypass it.
        log_config=None,
    )
