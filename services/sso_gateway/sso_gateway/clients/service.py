from __future__ import annotations

from sso_gateway import crypto
from sso_gateway.clients.repository import ClientRepository, client_repository
from sso_gateway.clients.schemas import PRIVATE_KEY_JWT, ClientCreate, ClientCreated
from sso_gateway.config import SOURCE
from vigie_shared.events import ClientRegistered, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn

CLIENT_SECRET_PREFIX = "vigie_cs_"  # noqa: S105 (a prefix, not a secret)


class ClientAlreadyExists(Exception):
    pass


class ClientService:
    def __init__(self, repository: ClientRepository) -> None:
        self._repository = repository

    async def register(
        self, conn: Conn, data: ClientCreate, *, secret_hash: str | None = None
    ) -> bool:
        """Register a platform; False when it already was (registration is idempotent)."""
        async with conn.transaction():
            created = await self._repository.insert(
                conn,
                client_id=data.client_id,
                name=data.name,
                redirect_uris=data.redirect_uris,
                training_platform=data.training_platform,
                secret_hash=secret_hash,
                public=data.public,
                grant_types=list(data.grant_types),
                post_logout_redirect_uris=data.post_logout_redirect_uris,
                backchannel_logout_uri=data.backchannel_logout_uri,
                client_uri=data.client_uri,
                audiences=data.audiences,
                signing_alg=data.signing_alg,
                scopes=list(data.scopes),
                token_endpoint_auth_method=data.token_endpoint_auth_method,
                jwks=data.jwks,
                jwks_uri=data.jwks_uri,
                require_pushed_authorization_requests=data.require_pushed_authorization_requests,
                dpop_bound_access_tokens=data.dpop_bound_access_tokens,
                fapi=data.fapi,
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

    async def add(self, conn: Conn, data: ClientCreate, *, secret_key: str) -> ClientCreated:
        """Register a new platform; one authenticated by a secret gets it, returned only here
        (a public client has none, a ``private_key_jwt`` one its own keys)."""
        keyed = data.token_endpoint_auth_method == PRIVATE_KEY_JWT
        secret = None if data.public or keyed else crypto.new_secret(CLIENT_SECRET_PREFIX)
        secret_hash = None if secret is None else crypto.keyed_hash(secret_key, secret)
        if not await self.register(conn, data, secret_hash=secret_hash):
            raise ClientAlreadyExists(data.client_id)
        return ClientCreated(client_id=data.client_id, client_secret=secret)


client = ClientService(client_repository)
