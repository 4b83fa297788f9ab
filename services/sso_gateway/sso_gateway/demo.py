"""Demo accounts and platforms for ``vigie up --demo`` (idempotent: a second run adds nothing)."""

from __future__ import annotations

import contextlib

from sso_gateway import crypto
from sso_gateway.admin.resource import admin_resource
from sso_gateway.clients.repository import client_repository
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import CLIENT_SECRET_PREFIX, client
from sso_gateway.config import Settings
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import UserAlreadyExists, user
from vigie_shared.cli import DEMO_PAGES_CLIENT, demo_client_secret
from vigie_shared.demo.payment.config import (
    DEMO_PAYMENT_CLIENT,
    PortalLocation,
    payment_client_uris,
)
from vigie_shared.kit import db
from vigie_shared.kit.settings import ServiceSettings

DEMO_USERS = (
    UserCreate(
        email="camille.martin@demo.example.org",
        display_name="Camille Martin",
        password="demo-apprenant-2026",
        roles=["learner"],
    ),
    UserCreate(
        email="yanis.benali@demo.example.org",
        display_name="Yanis Benali",
        password="demo-apprenant-2026",
        roles=["learner"],
    ),
    UserCreate(
        email="dpo@demo.example.org",
        display_name="Déléguée à la protection des données",
        password="demo-dpo-2026-vigie",
        roles=["dpo"],
    ),
    UserCreate(
        email="admin@demo.example.org",
        display_name="Administration Vigie",
        password="demo-admin-2026-vigie",
        roles=["admin"],
    ),
    UserCreate(
        email="compta@demo.example.org",
        display_name="Agence comptable",
        password="demo-compta-2026-vigie",
        roles=["accounting"],
    ),
)

DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"
# dpo_requests' pages on their default port (docs/architecture.md); `vigie up` hands them the
# client's secret.

CONSOLE_CLIENT = "vigie-console"
CONSOLE_REDIRECT_URI = "http://127.0.0.1:8766/callback"
"""Where the console's code lands: nothing listens there, the browser's address bar shows it
(a native app's loopback redirect, RFC 8252 §7.3)."""
AUDIT_LOG_RESOURCE = "audit-log"
DPO_REQUESTS_RESOURCE = "dpo-requests"


def console_client(issuer: str) -> ClientCreate:
    """What a DPO, an accountant or an admin uses from a terminal to call the APIs (the audit
    log, dpo_requests, the admin API): a public client (no secret to hand out; PKCE S256), whose
    tokens name the API asked for (``resource=``, RFC 8707), never a platform."""
    return ClientCreate(
        client_id=CONSOLE_CLIENT,
        name="Console (DPO, comptabilité, administration)",
        training_platform=False,
        public=True,
        redirect_uris=[CONSOLE_REDIRECT_URI],
        audiences=[AUDIT_LOG_RESOURCE, DPO_REQUESTS_RESOURCE, admin_resource(issuer)],
    )


DEMO_CLIENTS = (
    ClientCreate(
        client_id="moodle",
        name="Moodle",
        training_platform=True,
        # Where a local Moodle (or a test relying party) would receive the code.
        redirect_uris=[DEMO_REDIRECT_URI],
    ),
    ClientCreate(client_id="copies", name="Correction de copies en ligne", training_platform=True),
    ClientCreate(client_id="prepa-concours", name="Prépa concours", training_platform=True),
    ClientCreate(
        client_id="dpo-requests",
        name="Demandes RGPD",
        training_platform=False,
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        audiences=[DPO_REQUESTS_RESOURCE, AUDIT_LOG_RESOURCE],
    ),
)


def pages_client(pages_url: str) -> ClientCreate:
    """The DPO pages' client, redirecting to where the pages really listen."""
    return ClientCreate(
        client_id=DEMO_PAGES_CLIENT,
        name="Demandes RGPD — pages des apprenants et du DPO",
        # Learners must reach their GDPR rights even while suspended for debt.
        training_platform=False,
        redirect_uris=[f"{pages_url}/pages/auth/callback"],
        post_logout_redirect_uris=[f"{pages_url}/pages/"],
        client_uri=f"{pages_url}/pages/",
    )


def payment_client(portal_url: str) -> ClientCreate:
    """The demo payment portal's client (``vigie_shared.demo.payment``, the accounting office's
    page, not the gateway's), redirecting to where the portal really listens."""
    redirect_uri, home = payment_client_uris(portal_url)
    return ClientCreate(
        client_id=DEMO_PAYMENT_CLIENT,
        name="Paiement en ligne",
        # Paying is how a suspended learner gets access back: it must stay open to them.
        training_platform=False,
        redirect_uris=[redirect_uri],
        client_uri=home,
        # It is also a Shared Signals receiver (its own poll stream, registered at start-up
        # with a client-credentials token): the gateway's SETs end its local sessions.
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        scopes=["ssf.manage", "ssf.read"],
    )


def demo_secret(secret_key: str, client_id: str) -> str:
    """Demo platforms' secrets, derived from the (development) secret key so that every
    ``vigie up --demo`` can print them, and hand the pages theirs; real platforms get random
    ones (``vigie client add``)."""
    secret = demo_client_secret(secret_key, client_id)
    assert secret.startswith(CLIENT_SECRET_PREFIX)
    return secret


async def seed_demo(settings: ServiceSettings) -> list[str]:
    issuer = settings.issuer if isinstance(settings, Settings) else Settings().issuer
    conn = await db.connect(settings.database_url, "sso")
    try:
        lines = []
        for data in DEMO_USERS:
            with contextlib.suppress(UserAlreadyExists):
                await user.create(conn, data)
            lines.append(f"{', '.join(data.roles):<10} {data.email} / {data.password}")
        console = console_client(issuer)
        await client.register(conn, console)
        lines.append(f"console    {console.client_id} (public client: PKCE, no secret)")
        pages_url = (
            settings.demo_pages_url if isinstance(settings, Settings) else Settings().demo_pages_url
        ).rstrip("/")
        portal = payment_client(PortalLocation().demo_payment_url)
        for platform in (*DEMO_CLIENTS, pages_client(pages_url), portal):
            secret = demo_secret(settings.secret_key, platform.client_id)
            secret_hash = crypto.keyed_hash(settings.secret_key, secret)
            if not await client.register(conn, platform, secret_hash=secret_hash):
                await client_repository.set_missing_secret(conn, platform.client_id, secret_hash)
                await client_repository.add_redirect_uris(
                    conn,
                    platform.client_id,
                    platform.redirect_uris,
                    platform.post_logout_redirect_uris,
                    platform.client_uri,
                )
                await client_repository.add_grants_and_scopes(
                    conn, platform.client_id, list(platform.grant_types), list(platform.scopes)
                )
            lines.append(f"platform   {platform.client_id} / {secret}")
        return lines
    finally:
        await conn.close()
