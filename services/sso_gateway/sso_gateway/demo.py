"""Demo accounts and platforms for ``vigie up --demo`` (idempotent: a second run adds nothing)."""

from __future__ import annotations

import contextlib

from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import UserAlreadyExists, user
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
        email="compta@demo.example.org",
        display_name="Agence comptable",
        password="demo-compta-2026-vigie",
        roles=["accounting"],
    ),
)

DEMO_CLIENTS = (
    ClientCreate(client_id="moodle", name="Moodle", training_platform=True),
    ClientCreate(client_id="copies", name="Correction de copies en ligne", training_platform=True),
    ClientCreate(client_id="prepa-concours", name="Prépa concours", training_platform=True),
    ClientCreate(client_id="paiement", name="Paiement en ligne", training_platform=False),
    ClientCreate(client_id="dpo-requests", name="Demandes RGPD", training_platform=False),
)


async def seed_demo(settings: ServiceSettings) -> list[str]:
    conn = await db.connect(settings.database_url, "sso")
    try:
        lines = []
        for data in DEMO_USERS:
            with contextlib.suppress(UserAlreadyExists):
                await user.create(conn, data)
            lines.append(f"{', '.join(data.roles):<10} {data.email} / {data.password}")
        for platform in DEMO_CLIENTS:
            await client.register(conn, platform)
        lines.append("platforms  " + ", ".join(c.client_id for c in DEMO_CLIENTS))
        return lines
    finally:
        await conn.close()
