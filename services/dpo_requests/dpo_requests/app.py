"""dpo_requests: GDPR data-rights requests with their legal deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

from fastapi import FastAPI

from dpo_requests import scheduler
from dpo_requests.config import Settings
from dpo_requests.intake.endpoints import router as intake_router
from dpo_requests.packages.endpoints import router as packages_router
from dpo_requests.requests.endpoints import router as requests_router
from dpo_requests.service import SERVICE
from dpo_requests.tasks import handlers as task_handlers
from dpo_requests.tasks.endpoints import router as tasks_router
from vigie_shared.kit.oidc import TokenVerifier
from vigie_shared.kit.runtime import Runtime


def create_app(
    settings: Settings | None = None,
    *,
    token_verifier: TokenVerifier | None = None,
    schema: str | None = None,
) -> FastAPI:
    """``token_verifier`` and ``schema`` let tests use a fake issuer and a schema of their own."""
    settings = settings or Settings()
    spec = SERVICE if schema is None else dataclasses.replace(SERVICE, schema=schema)
    runtime = Runtime(spec, settings)
    task_handlers.register(runtime, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            sweeper = asyncio.create_task(
                scheduler.run(runtime.pool, settings), name="dpo_requests-scheduler"
            )
            try:
                yield
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper

    app = FastAPI(title="Vigie DPO requests", version="0.2.0", lifespan=lifespan)
    runtime.install(app)
    app.state.settings = settings
    app.state.token_verifier = token_verifier or TokenVerifier(
        issuer=settings.issuer, audience=settings.audience
    )
    app.include_router(requests_router)
    app.include_router(intake_router)
    app.include_router(tasks_router)
    app.include_router(packages_router)
    return app
