"""audit_log: the append-only record of access suspensions and data events."""

from __future__ import annotations

from fastapi import FastAPI

from audit_log.config import Settings
from audit_log.ingest import handlers as ingest_handlers
from audit_log.service import SERVICE
from vigie_shared.kit.http import health_router, install_problem_handlers
from vigie_shared.kit.runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    ingest_handlers.register(runtime)
    app = FastAPI(title="Vigie audit log", version="0.1.0", lifespan=runtime.lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(health_router(runtime.readiness))
    return app
