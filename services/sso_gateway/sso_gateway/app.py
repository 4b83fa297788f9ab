"""sso_gateway: the OpenID Connect provider the platforms delegate login to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from sso_gateway.access import handlers as access_handlers
from sso_gateway.access.endpoints import router as access_router
from sso_gateway.access.repository import access_repository
from sso_gateway.access.service import AccessService
from sso_gateway.admin.endpoints import router as admin_router
from sso_gateway.backchannel.service import backchannel
from sso_gateway.config import Settings
from sso_gateway.data_rights.service import data_system
from sso_gateway.keys.endpoints import jwks as jwks_endpoint
from sso_gateway.keys.endpoints import router as keys_router
from sso_gateway.keys.service import keys
from sso_gateway.login.endpoints import router as login_router
from sso_gateway.oauth import dpop as oauth_dpop
from sso_gateway.oauth.discovery import discovery as discovery_endpoint
from sso_gateway.oauth.discovery import router as discovery_router
from sso_gateway.oauth.endpoints import router as oauth_router
from sso_gateway.oauth.endpoints import token as token_endpoint
from sso_gateway.oauth.server import Provider
from sso_gateway.oauth.userinfo import router as userinfo_router
from sso_gateway.par.endpoints import router as par_router
from sso_gateway.password.endpoints import router as password_router
from sso_gateway.service import SERVICE
from sso_gateway.sessions import wiring as sessions_wiring
from sso_gateway.sessions.service import sessions
from sso_gateway.signals import wiring as signals_wiring
from sso_gateway.signals.endpoints import admin_router as signals_admin_router
from sso_gateway.signals.endpoints import router as signals_router
from vigie_shared.kit import api_docs
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import serve_plainly
from vigie_shared.kit.runtime import Runtime
from vigie_shared.kit.telemetry import FASTAPI_TELEMETRY


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    provider = Provider(settings)

    async def ensure_keys(conn: Conn) -> None:
        await keys.ensure(conn, settings.secret_key)

    runtime.on_start(ensure_keys)
    data_system(settings).register(runtime)
    access = AccessService(access_repository)
    access_handlers.register(runtime, access)
    if settings.grace_sweep_seconds > 0:
        access_handlers.schedule_grace(runtime, access, settings.grace_sweep_seconds)

    async def sign_out_everywhere(conn: Conn, learner_id: str) -> None:
        # A suspension revokes sessions and refresh tokens, and every platform the learner used
        # is told by back-channel logout (queued in this same transaction).
        await sessions.revoke_all(conn, settings, learner_id, "suspension")

    access.on_suspension(sign_out_everywhere)
    signals_wiring.register(runtime, settings, access, provider)
    sessions_wiring.register(runtime, settings)
    # RFC 9449 §11.1: a proof's jti is remembered for its window only; then it is deleted.
    runtime.every(
        settings.dpop_proof_max_age_seconds,
        "dpop proof purge",
        lambda: oauth_dpop.purge(runtime.pool),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            provider.start(runtime.pool, asyncio.get_running_loop())
            await provider.keyring.refresh(runtime.pool, force=True)
            worker = None
            if settings.backchannel_poll_seconds > 0:
                worker = asyncio.create_task(
                    backchannel.run(
                        runtime.pool,
                        provider.keyring,
                        settings,
                        interval=settings.backchannel_poll_seconds,
                    ),
                    name="sso-backchannel-logout",
                )
            try:
                yield
            finally:
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                await provider.close()

    app = FastAPI(
        title="Vigie SSO gateway",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY,
        **api_docs.fastapi_options(settings),
    )
    runtime.install(app)
    api_docs.install(app, settings)
    app.state.provider = provider
    # The URL a DPoP proof's htu names (RFC 9449 §4.3): the public one, behind any proxy.
    app.state.public_url = settings.issuer
    app.state.access = access
    app.include_router(discovery_router)
    app.include_router(oauth_router)
    app.include_router(par_router)
    app.include_router(userinfo_router)
    app.include_router(keys_router)
    app.include_router(login_router)
    app.include_router(password_router)
    app.include_router(admin_router)
    app.include_router(access_router)
    app.include_router(signals_router)
    app.include_router(signals_admin_router)
    # What every platform calls at every token expiry or key rotation: the hot paths.
    serve_plainly(
        app,
        [
            ("/token", "POST", token_endpoint),
            ("/jwks", "GET", jwks_endpoint),
            ("/.well-known/openid-configuration", "GET", discovery_endpoint),
        ],
    )
    return app
