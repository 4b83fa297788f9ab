"""The portal as a Shared Signals receiver: its poll stream registered at start-up with its
own client's token, and the gateway's SETs (checked against the JWKS with joserfc) ending its
local sessions: a suspension from the billing events on Kafka, a sign-out at the gateway."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from sso_gateway.signals import sets
from tests.demo_payment.conftest import PASSWORD, PaymentStack, new_learner
from tests.fixtures.serving import eventually
from vigie_shared.demo.payment.reminders import remind
from vigie_shared.demo.payment.signals import ACCOUNT_DISABLED, DESCRIPTION, POLL, InvalidSet

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return unescape(match.group(1))


async def portal_login(http: httpx.AsyncClient, stack: PaymentStack, username: str) -> None:
    """A browser: the portal's login through the gateway's form (or its single sign-on)."""
    response = await http.get(f"{stack.portal_url}/login")
    for _ in range(10):
        location = response.headers.get("location")
        if location is None:
            break
        url = httpx.URL(str(response.url)).join(location)
        if url.path == "/login" and str(url).startswith(stack.issuer):
            form = await http.get(url)
            response = await http.post(
                f"{stack.issuer}/login",
                data={
                    "identifier": username,
                    "password": PASSWORD,
                    "csrf_token": csrf_of(form.text),
                    "next": parse_qs(urlsplit(str(url)).query)["next"][0],
                },
            )
        else:
            response = await http.get(url)
    assert await signed_in_to_portal(http, stack), response.text


async def signed_in_to_portal(http: httpx.AsyncClient, stack: PaymentStack) -> bool:
    page = await http.get(f"{stack.portal_url}/")
    assert page.status_code == 200
    return 'id="login"' not in page.text


async def test_the_portal_registers_one_poll_stream_with_its_own_client(
    stack: PaymentStack,
) -> None:
    receiver = stack.portal.state.signals
    await asyncio.wait_for(receiver.ready.wait(), 20)
    rows = await stack.sso.state.runtime.pool.fetch(
        "SELECT client_id, delivery_method, events_delivered FROM ssf_streams"
        " WHERE description = $1",
        DESCRIPTION,
    )
    assert [(r["client_id"], r["delivery_method"]) for r in rows] == [("paiement", POLL)]
    # A restart finds its stream again rather than registering another.
    assert (await receiver.register())["stream_id"] == receiver.stream["stream_id"]


async def test_a_billing_suspension_ends_the_portals_session_and_a_new_login_is_let_in(
    stack: PaymentStack,
) -> None:
    await asyncio.wait_for(stack.portal.state.signals.ready.wait(), 20)
    learner_id, username = await new_learner(stack)
    async with httpx.AsyncClient() as http:
        await portal_login(http, stack, username)
        # A SET's times are whole seconds: the suspension comes in a later one than the login.
        await asyncio.sleep(1.1)
        # The accounting system's reminder, past its grace, on Kafka: the gateway suspends.
        await remind(stack.bootstrap, learner_id, amount=Decimal("30.00"))
        ended = await eventually(
            lambda: signed_in_to_portal(http, stack), until=lambda signed: not signed, timeout=40
        )
        assert not ended, "the portal's session outlived the suspension"
        assert learner_id in stack.portal.state.revocations.accounts
        # The portal is where a suspended learner pays: a login after the suspension holds.
        await portal_login(http, stack, username)
        await asyncio.sleep(0.5)
        assert await signed_in_to_portal(http, stack)


async def test_signing_out_at_the_gateway_ends_the_portals_session(stack: PaymentStack) -> None:
    await asyncio.wait_for(stack.portal.state.signals.ready.wait(), 20)
    _, username = await new_learner(stack)
    async with httpx.AsyncClient() as http:
        await portal_login(http, stack, username)
        confirm = await http.get(f"{stack.issuer}/logout")
        done = await http.post(f"{stack.issuer}/logout", data={"csrf_token": csrf_of(confirm.text)})
        assert done.status_code == 200
        ended = await eventually(
            lambda: signed_in_to_portal(http, stack), until=lambda signed: not signed, timeout=40
        )
        assert not ended, "the portal's session outlived the gateway's"


async def test_the_portal_acts_only_on_sets_the_gateway_signed_for_it(stack: PaymentStack) -> None:
    receiver = stack.portal.state.signals
    await asyncio.wait_for(receiver.ready.wait(), 20)
    keyring = stack.sso.state.provider.keyring

    def claims(**changes: Any) -> dict[str, Any]:
        base = sets.claims(
            issuer=stack.issuer,
            audience="paiement",
            txn="1",
            sub_id={"format": "iss_sub", "iss": stack.issuer, "sub": "u-forged"},
            event_type=ACCOUNT_DISABLED,
            payload={"event_timestamp": 2_000_000_000},
        )
        return {**base, **changes}

    stranger = ECKey.generate_key("P-256")
    forged = jwt.encode({"alg": "ES256", "typ": "secevent+jwt"}, claims(), stranger)
    with pytest.raises(InvalidSet, match="invalid_key"):
        await receiver.verify(forged)
    with pytest.raises(InvalidSet, match="invalid_audience"):
        await receiver.verify(sets.sign(keyring, claims(aud="moodle"), "ES256"))
    key = keyring.signing_key("ES256")
    untyped = jwt.encode({"alg": "ES256", "kid": key.kid}, claims(), key.key)
    with pytest.raises(InvalidSet, match="invalid_request"):
        await receiver.verify(untyped)
    assert "u-forged" not in receiver.revocations.accounts
    receiver.act(await receiver.verify(sets.sign(keyring, claims(), "ES256")))
    assert receiver.revocations.accounts["u-forged"] == 2_000_000_000
