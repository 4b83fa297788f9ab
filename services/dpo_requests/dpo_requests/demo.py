"""Demo rights requests for ``vigie up --demo`` (idempotent: seeded once per database)."""

from __future__ import annotations

from datetime import timedelta

from dpo_requests.requests.repository import request_repository
from dpo_requests.requests.schemas import RequestCreate
from dpo_requests.requests.service import rights_request
from dpo_requests.tasks.service import task_service
from vigie_shared.events import RequestType, TaskAction
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.settings import ServiceSettings

DEMO_REQUESTS = (
    (RequestType.ACCESS, "camille.martin@demo.example.org", "online", 3, None),
    (
        RequestType.RECTIFICATION,
        "yanis.benali@demo.example.org",
        "online",
        12,
        {"lastname": "Benali-Moreau"},
    ),
    (RequestType.ERASURE, "ancien.inscrit@example.org", "email", 27, None),
    (RequestType.OBJECTION, "Courrier de M. Durand", "post", 35, None),
)


async def seed_demo(settings: ServiceSettings) -> list[str]:
    conn = await db.connect(settings.database_url, "dpo")
    try:
        if await request_repository.count(conn) == 0:
            now = utcnow()
            for request_type, requester, channel, days_ago, corrections in DEMO_REQUESTS:
                await rights_request.register(
                    conn,
                    RequestCreate(
                        request_type=request_type,
                        requester=requester,
                        channel=channel,
                        corrections=corrections,
                        received_at=now - timedelta(days=days_ago),
                    ),
                )
            # Not automated: every task for it is a manual task for the DPO.
            await task_service.register_system(
                conn,
                name="archives_papier",
                actions=[TaskAction.EXPORT, TaskAction.ERASE],
                description="Dossiers papier des inscriptions antérieures à 2015",
                automated=False,
            )
        return [f"requests   {await request_repository.count(conn)} rights requests on file"]
    finally:
        await conn.close()
