"""The access log carries no credential: authorization codes arriving at a relying party's
callback, full ``id_token_hint`` values at the gateway's logout, tokens and verifiers a client
wrongly puts in a URL (RFC 6750 §5.3, RFC 9700 §4.2.4). Served by real uvicorn with the
services' own configuration (``kit.serve.uvicorn_config``) and logging
(``kit.telemetry.configure_logging``), read back from the JSON lines it writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.fixtures.serving import serving
from tests.security.conftest import Services
from tests.sso_gateway.support import browser, make_client, make_user, signed_in
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.serve import uvicorn_config
from vigie_shared.kit.telemetry import configure_logging

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


@contextmanager
def service_logs() -> Iterator[io.StringIO]:
    """What the services' own log handler writes, while the block runs."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    written = io.StringIO()
    try:
        configure_logging("INFO", json_logs=True)
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(written)
        yield written
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


async def test_access_logs_carry_no_code_token_or_id_token_hint(services: Services) -> None:
    sso, dpo = services.sso, services.dpo
    account, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
    secrets = {
        "code": "vigie-code-must-not-be-logged",
        "code_verifier": "verifier-must-not-be-logged",
        "access_token": tokens["access_token"],
    }
    settings = sso.state.provider.settings
    gateway_port, dpo_port = free_port(), free_port()
    with service_logs() as written:
        async with (
            serving(sso, gateway_port, config=uvicorn_config(sso, settings)),
            serving(dpo, dpo_port, config=uvicorn_config(dpo, settings)),
            httpx.AsyncClient() as client,
        ):
            await client.get(
                f"http://127.0.0.1:{gateway_port}/logout",
                params={"id_token_hint": tokens["id_token"], "state": "bye-state"},
            )
            await client.get(
                f"http://127.0.0.1:{dpo_port}/pages/auth/callback",
                params={**secrets, "state": "callback-state"},
            )
            # A name percent-encoded is the same parameter to the server that reads it.
            await client.get(
                f"http://127.0.0.1:{dpo_port}/pages/auth/callback?co%64e=encoded-code-not-logged"
            )
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    access = [line["message"] for line in lines if line["name"] == "uvicorn.access"]
    logged = "\n".join(line["message"] for line in lines)
    assert any("/logout?" in message for message in access), access
    assert any("/pages/auth/callback?" in message for message in access), access
    for secret in [tokens["id_token"], *secrets.values(), "encoded-code-not-logged"]:
        assert secret not in logged
    assert tokens["id_token"].split(".")[2] not in logged  # not even its signature
    assert "id_token_hint=[redacted]" in logged
    assert "code=[redacted]" in logged
    # Not credentials, and what an operator matches a failed login with: kept.
    assert "state=bye-state" in logged
    assert "state=callback-state" in logged
