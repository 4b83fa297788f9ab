"""Run one service's HTTP app (``python -m <service>``)."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from vigie_shared.kit.settings import ServiceSettings


def configure_logging(settings: ServiceSettings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        # In-flight requests finish on SIGTERM before the lifespan stops the consumers.
        timeout_graceful_shutdown=15,
        proxy_headers=True,
    )
