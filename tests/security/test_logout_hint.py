"""RP-Initiated Logout 1.0 §2 under attack: an ``id_token_hint`` alone (a copy of someone's ID
token, from a platform's logs, say) does not end their session from another browser; the OP
asks for confirmation, and what a confirmation ends is the confirming browser's own session.
A confirmation posted from another site's page is refused (Origin check)."""

from __future__ import annotations

from secrets import token_urlsafe as generate_token

import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import (
    ISSUER,
    authorize_url,
    browser,
    csrf_of,
    make_client,
    make_user,
    signed_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

CONFIRM = "Voulez-vous vous déconnecter"


async def test_an_id_token_hint_without_the_session_cookie_does_not_end_the_victims_session(
    sso: FastAPI,
) -> None:
    victim, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as victims_browser, browser(sso) as attacker:
        tokens = await signed_in(sso, victims_browser, platform, victim)
        hint = {"id_token_hint": tokens["id_token"]}
        asked = await attacker.get("/logout", params=hint)
        confirmed = await attacker.post("/logout", data={**hint, "csrf_token": csrf_of(asked.text)})
        still = await victims_browser.get(authorize_url(platform, generate_token(48)))
    assert asked.status_code == 200
    assert CONFIRM in asked.text
    assert confirmed.status_code == 200
    # The victim is still signed in: the authorization endpoint answers without the form.
    assert still.status_code == 302
    assert not still.headers["location"].startswith("/login")


async def test_a_hint_for_another_session_asks_the_browser_before_ending_its_own(
    sso: FastAPI,
) -> None:
    victim, someone, platform = await make_user(sso), await make_user(sso), await make_client(sso)
    async with browser(sso) as theirs, browser(sso) as mine:
        tokens = await signed_in(sso, theirs, platform, victim)
        await signed_in(sso, mine, platform, someone)
        asked = await mine.get("/logout", params={"id_token_hint": tokens["id_token"]})
        theirs_still = await theirs.get(authorize_url(platform, generate_token(48)))
        mine_still = await mine.get(authorize_url(platform, generate_token(48)))
    assert CONFIRM in asked.text
    assert not theirs_still.headers["location"].startswith("/login")
    assert not mine_still.headers["location"].startswith("/login")


async def test_a_logout_confirmation_posted_from_another_site_is_refused(sso: FastAPI) -> None:
    account, platform = await make_user(sso), await make_client(sso)
    async with browser(sso) as http:
        await signed_in(sso, http, platform, account)
        page = await http.get("/logout")
        token = {"csrf_token": csrf_of(page.text)}
        forged = await http.post("/logout", data=token, headers={"origin": "https://evil.test"})
        hidden = await http.post("/logout", data=token, headers={"origin": "null"})
        still = await http.get(authorize_url(platform, generate_token(48)))
        ours = await http.post("/logout", data=token, headers={"origin": ISSUER})
        after = await http.get(authorize_url(platform, generate_token(48)))
    assert forged.status_code == 403
    assert hidden.status_code == 403
    assert not still.headers["location"].startswith("/login")
    assert "Vous êtes déconnecté." in ours.text
    assert after.headers["location"].startswith("/login")
