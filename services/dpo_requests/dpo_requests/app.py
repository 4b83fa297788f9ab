"""dpo_requests: GDPR data-rights requests with their legal deadlines."""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dpo_requests import scheduler
from dpo_requests.config import Settings
from dpo_requests.dashboard.endpoints import router as dashboard_router
from dpo_requests.intake.endpoints import router as intake_router
from dpo_requests.notifications import sender as mail_sender
from dpo_requests.notifications.config import SmtpSettings, get_smtp_settings
from dpo_requests.packages.endpoints import router as packages_router
from dpo_requests.register.endpoints import router as register_router
from dpo_requests.requests import handlers as request_handlers
from dpo_requests.requests.endpoints import router as requests_router
from dpo_requests.service import SERVICE
from dpo_requests.tasks.endpoints import router as tasks_router
from dpo_requests.web import errors as page_errors
from dpo_requests.web import handlers as page_handlers
from dpo_requests.web.endpoints import root as root_router
from dpo_requests.web.endpoints import router as pages_router
from dpo_requests.web.oidc import RelyingParty
from vigie_shared.kit import api_docs, deny_list
from vigie_shared.kit.oidc import TokenVerifier
from vigie_shared.kit.runtime import Runtime
from vigie_shared.kit.telemetry import FASTAPI_TELEMETRY


def create_app(
    settings: Settings | None = None,
    *,
    token_verifier: TokenVerifier | None = None,
    schema: str | None = None,
    smtp: SmtpSettings | None = None,
) -> FastAPI:
    """``token_verifier``, ``schema`` and ``smtp`` let tests use a fake issuer, a schema and a
    mail server of their own."""
    settings = settings or Settings()
    # Fails at start-up, not at the first message: no mail server outside development.
    mail = (smtp or get_smtp_settings()).check(settings.env)
    spec = SERVICE if schema is None else dataclasses.replace(SERVICE, schema=schema)
    runtime = Runtime(spec, settings)
    request_handlers.register(runtime, settings)
    page_handlers.register(runtime)

    runtime.every(
        settings.scheduler_interval_seconds,
        "scheduler",
        lambda: scheduler.sweep_once(runtime.pool, settings),
    )
    runtime.alongside("mail", lambda: mail_sender.run(runtime.pool, mail))

    app = FastAPI(
        title="Vigie DPO requests",
        version="0.2.0",
        lifespan=runtime.lifespan,
        telemetry=FASTAPI_TELEMETRY,
        **api_docs.fastapi_options(settings),
    )
    runtime.install(app)
    api_docs.install(app, settings)
    app.state.settings = settings
    app.state.deny_list = deny_list.subscribe(runtime)
    app.state.token_verifier = token_verifier or TokenVerifier(
        issuer=settings.issuer, audience=settings.audience, public_url=settings.public_url
    )
    app.include_router(requests_router)
    app.include_router(intake_router)
    app.include_router(tasks_router)
    app.include_router(packages_router)
    app.include_router(dashboard_router)
    app.include_router(register_router)
    # The pages people use: an OIDC relying party of the gateway, errors as pages.
    app.state.relying_party = RelyingParty(settings)
    app.mount("/pages/static", StaticFiles(packages=[("vigie_shared.kit", "static")]), "static")
    app.include_router(pages_router)
    app.include_router(root_router)
    page_errors.install(app)
    return app
