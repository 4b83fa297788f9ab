"""SETs from the real triggers a person or an accountant uses: the browser's RP-initiated
logout (``/logout``) and a suspension over the admin API. Each session ended yields exactly one
CAEP session-revoked, whatever is replayed after it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.sso_gateway.signals.support import (
    ACCOUNT_DISABLED,
    SESSION_REVOKED,
    Receiver,
    create_stream,
    event_of,
    make_receiver,
    poll,
    verify_set,
)
from tests.sso_gateway.support import (
    Platforms,
    admin_api_token,
    browser,
    deliver,
    make_client,
    make_user,
    signed_in,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def drained(sso: FastAPI, receiver: Receiver, stream: dict[str, Any]) -> list[Any]:
    """Every SET waiting for the poll receiver, checked with joserfc and acknowledged."""
    answer = await poll(sso, receiver, stream, maxEvents=100)
    await poll(sso, receiver, stream, ack=list(answer["sets"]), maxEvents=0)
    return [await verify_set(sso, t, receiver.client_id) for t in answer["sets"].values()]


async def sid_of(sso: FastAPI, id_token: str) -> str:
    async with browser(sso) as http:
        jwks = KeySet.import_key_set((await http.get("/jwks")).json())
    sid: str = jwt.decode(id_token, jwks, algorithms=["ES256", "RS256"]).claims["sid"]
    return sid


async def test_rp_initiated_logout_sends_exactly_one_session_revoked(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    account = await make_user(sso)
    logout_uri = f"https://{unique('lms')}.example/bcl"
    platform = await make_client(sso, backchannel_logout_uri=logout_uri)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
        hint = {"id_token_hint": tokens["id_token"]}
        first = await http.get("/logout", params=hint)
        assert first.status_code == 200, first.text
        # The platform asks again (a retry, a second tab): the session is already over.
        again = await http.get("/logout", params=hint)
        assert again.status_code == 200
    (claims,) = await drained(sso, receiver, stream)
    event_type, payload = event_of(claims)
    assert event_type == SESSION_REVOKED
    assert claims["sub_id"]["session"] == {
        "format": "opaque",
        "id": await sid_of(sso, hint["id_token_hint"]),
    }
    assert claims["sub_id"]["user"]["sub"] == account.id
    assert payload["initiating_entity"] == "user"
    # And the back-channel logout of the same session, once.
    platforms = Platforms()
    await deliver(sso, platforms)
    assert [url for url, _ in platforms.received if url == logout_uri] == [logout_uri]
    assert await drained(sso, receiver, stream) == []


async def test_a_suspension_over_the_admin_api_revokes_each_session_once(sso: FastAPI) -> None:
    receiver = await make_receiver(sso)
    stream = await create_stream(sso, receiver)
    account = await make_user(sso)
    platform = await make_client(sso)
    sids = set()
    for _ in range(2):
        async with browser(sso) as http:
            sids.add(await sid_of(sso, (await signed_in(sso, http, platform, account))["id_token"]))
    accountant = await admin_api_token(sso, ["accounting"])
    async with browser(sso) as http:
        for _ in range(2):
            decided = await http.post(
                f"/admin/access/{account.id}/suspend",
                json={"reason": "chèque rejeté"},
                headers={"Authorization": f"Bearer {accountant}"},
            )
            assert decided.status_code == 200, decided.text
    claims = await drained(sso, receiver, stream)
    # The accountant's own sign-in (for the admin API token) is no SET of this account's.
    mine = [c for c in claims if account.id in str(c["sub_id"])]
    assert sorted(event_of(c)[0] for c in mine) == sorted(
        [ACCOUNT_DISABLED, SESSION_REVOKED, SESSION_REVOKED]
    )
    revoked = {c["sub_id"]["session"]["id"] for c in mine if event_of(c)[0] == SESSION_REVOKED}
    assert revoked == sids
    assert {event_of(c)[1]["initiating_entity"] for c in mine} == {"policy"}
    assert len({c["txn"] for c in mine}) == 1
