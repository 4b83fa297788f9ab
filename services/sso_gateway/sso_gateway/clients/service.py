from __future__ import annotations

from sso_gateway.clients.repository import ClientRepository, client_repository
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.config import SOURCE
from vigie_shared.events import ClientRegistered, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn


class ClientService:
    def __init__(self, repository: ClientRepository) -> None:
        self._repository = repository

    async def register(self, conn: Conn, data: ClientCreate) -> bool:
        """Register a platform; False when it already was (registration is idempotent)."""
        async with conn.transaction():
            created = await self._repository.insert(
                conn,
                client_id=data.client_id,
                name=data.name,
                redirect_uris=data.redirect_uris,
                training_platform=data.training_platform,
            )
            if created:
                await outbox.enqueue(
                    conn,
                    new_event(
                        ClientRegistered(
                            client_id=data.client_id,
                            name=data.name,
                            training_platform=data.training_platform,
                        ),
                        subject=data.client_id,
                        source=SOURCE,
                    ),
                )
        return created


client = ClientService(client_repository)
