"""``vigie up --demo`` data: the platforms it prints can really obtain tokens, e.g. the
``dpo-requests`` service for the audit log (the audiences other services verify)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jws

from sso_gateway.demo import seed_demo
from tests.sso_gateway.support import browser

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_demo_platform_secret_works_and_reseeding_adds_nothing(sso: FastAPI) -> None:
    settings = sso.state.provider.settings
    first = await seed_demo(settings)
    second = await seed_demo(settings)
    assert first == second
    line = next(x for x in second if x.startswith("platform   dpo-requests"))
    secret = line.split(" / ")[1]
    async with browser(sso) as http:
        for audience in ("audit-log", "dpo-requests"):
            response = await http.post(
                "/token",
                data={"grant_type": "client_credentials", "resource": audience},
                auth=httpx.BasicAuth("dpo-requests", secret),
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            claims = jws.extract_compact(token.encode()).payload
            assert f'"aud":"{audience}"'.encode() in claims.replace(b" ", b"")
