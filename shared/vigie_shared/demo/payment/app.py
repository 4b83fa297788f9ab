"""The payment portal's app: the ledger follows the broker and the producer publishes payments
for as long as the app runs (started and stopped in its lifespan)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from vigie_shared import topics
from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.demo.payment.endpoints import router
from vigie_shared.demo.payment.ledger import Ledger, LedgerFollower
from vigie_shared.demo.payment.payments import PaymentService
from vigie_shared.demo.payment.rendering import LoginRequired, PageError, error_page
from vigie_shared.demo.payment.signals import Revocations, SignalReceiver
from vigie_shared.kit.kafka import Producer, ensure_topics, service_login
from vigie_shared.kit.oidc_rp import RelyingParty

CATCH_UP_SECONDS = 60.0
SCOPE = "openid profile"
"""The portal needs the person's identity only, not an API: the access token is not used."""


def create_app(settings: PaymentSettings | None = None) -> FastAPI:
    settings = settings or PaymentSettings()
    login = service_login(settings)
    ledger = Ledger()
    follower = LedgerFollower(settings.kafka_bootstrap, ledger, login=login)
    producer = Producer(settings.kafka_bootstrap, client_id="accounting-demo-payment", login=login)
    revocations = Revocations()
    receiver = SignalReceiver(
        issuer=settings.issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        revocations=revocations,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if login is None:
            # A broker that authenticates its clients has its topics made by its operator: the
            # accounting principal may not create them (kit/kafka_acls.py).
            await ensure_topics(settings.kafka_bootstrap, [topics.BILLING, topics.ACCESS])
        await producer.start()
        try:
            await follower.start()
            try:
                await follower.wait_caught_up(CATCH_UP_SECONDS)
                await receiver.start()
                try:
                    yield
                finally:
                    await receiver.stop()
            finally:
                await follower.stop()
        finally:
            await producer.stop()

    app = FastAPI(
        title="Paiement en ligne (démonstration)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.follower = follower
    app.state.revocations = revocations
    app.state.signals = receiver
    app.state.relying_party = RelyingParty(
        issuer=settings.issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        redirect_uri=settings.redirect_uri,
        scope=SCOPE,
    )
    app.state.payments = PaymentService(ledger, producer, timeout=settings.publish_timeout)
    app.include_router(router)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        return error_page(request, exc)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        return RedirectResponse("/", status_code=303)

    return app
