"""sso_gateway: the OpenID Connect provider the platforms delegate login to."""

from __future__ import annotations

from fastapi import FastAPI

from sso_gateway.config import Settings
from sso_gateway.service import SERVICE
from vigie_shared.kit.http import health_router, install_problem_handlers
from vigie_shared.kit.runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    app = FastAPI(title="Vigie SSO gateway", version="0.1.0", lifespan=runtime.lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(health_router(runtime.readiness))
    return app
