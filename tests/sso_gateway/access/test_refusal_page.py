"""The page a suspended learner sees at ``/authorize`` for a training platform, in French by
default and in English, and its way back to the platform carrying the RFC 6749
§4.1.2.1 error to the verified redirect URI."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin

import pytest
from authlib.common.security import generate_token
from fastapi import FastAPI

from tests.sso_gateway.support import (
    ISSUER,
    Account,
    browser,
    login_through_form,
    make_client,
    make_user,
    query_of,
    relying_party,
    return_link,
    suspend_by_hand,
    unique,
)
from vigie_shared.kit.clock import utcnow

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def suspended_learner_at(sso: FastAPI, **authorize: Any) -> tuple[Any, str, Account, Any]:
    """A learner logs in to a training platform, is suspended by hand, then tries again."""
    account = await make_user(sso)
    moodle = await make_client(sso, name="Moodle Lycée")
    verifier = generate_token(48)
    async with relying_party(sso, moodle) as rp, browser(sso) as http:
        url, _ = rp.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
        await login_through_form(http, url, account)
        await suspend_by_hand(sso, account)
        url, state = rp.create_authorization_url(
            f"{ISSUER}/authorize", code_verifier=verifier, **authorize
        )
        login = await http.get(url)
        if login.status_code == 302:  # the session was revoked by the suspension
            login = await login_through_form(http, url, account)
        return login, state, account, moodle


async def test_suspended_learner_sees_why_how_to_pay_and_that_gdpr_requests_stay_open(
    sso: FastAPI,
) -> None:
    payment_name = unique("Paiement en ligne")
    await make_client(
        sso,
        name=payment_name,
        training_platform=False,
        redirect_uris=["https://paiement.example.org/oidc/callback"],
        client_uri="https://paiement.example.org/",
    )
    # Not training platforms either, but nothing a person opens: an API, a console.
    api_name, console_name = unique("API des demandes"), unique("Console")
    await make_client(
        sso, name=api_name, training_platform=False, grant_types=["client_credentials"]
    )
    await make_client(
        sso,
        name=console_name,
        training_platform=False,
        public=True,
        redirect_uris=["http://127.0.0.1:8766/callback"],
    )
    page, state, _, moodle = await suspended_learner_at(sso)
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="fr">' in page.text
    text = text_of(page.text)
    assert "Accès suspendu" in text
    assert "suspendu par décision de l'agence comptable" in text
    assert "Le paiement en ligne reste accessible" in text
    assert "RGPD" in text
    assert "Revenir à « Moodle Lycée »" in text
    # A platform that is not a training platform is listed with its home page; what has none
    # to open is not listed.
    assert f'<a href="https://paiement.example.org/">{payment_name}</a>' in page.text
    assert api_name not in page.text
    assert console_name not in page.text

    back = return_link(page.text)
    assert back.startswith(moodle.redirect_uri + "?")
    answer = query_of(back)
    assert answer["error"] == "access_denied"
    assert answer["error_description"] == "Access to training platforms is suspended (unpaid debt)."
    assert answer["state"] == state
    assert "code" not in answer


async def test_refusal_page_is_in_english_when_asked_and_offers_french(sso: FastAPI) -> None:
    page, state, _, _ = await suspended_learner_at(sso, ui_locales="en")
    assert page.status_code == 403
    assert '<html lang="en">' in page.text
    text = text_of(page.text)
    assert "Access suspended" in text
    assert "Online payment is still available" in text
    assert "GDPR" in text
    assert query_of(return_link(page.text))["state"] == state
    switch = re.search(r'<a href="\?([^"]+)" hreflang="fr"', page.text)
    assert switch is not None
    switched = query_of("?" + html.unescape(switch.group(1)))
    assert switched["ui_locales"] == "fr"
    assert switched["state"] == state


async def test_reason_names_the_debt_when_a_debt_suspended_the_learner(sso: FastAPI) -> None:
    account = await make_user(sso)
    moodle = await make_client(sso, name="Prépa concours")
    async with sso.state.runtime.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO debts (debt_id, learner_id, channel, amount, reminded_at, grace_days,"
            " suspend_at) VALUES ($1, $2, 'CPA', 42, now() - interval '20 days', 8,"
            " now() - interval '11 days')",
            unique("debt"),
            account.id,
        )
    await sso.state.access.sweep(sso.state.runtime.pool, utcnow())
    verifier = generate_token(48)
    async with relying_party(sso, moodle) as rp, browser(sso) as http:
        url, _ = rp.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
        page = await login_through_form(http, url, account)
    assert page.status_code == 403
    assert "une somme due à l'établissement reste impayée" in text_of(page.text)


async def test_an_unverified_redirect_uri_is_never_offered_as_the_way_back(sso: FastAPI) -> None:
    page, _, _, moodle = await suspended_learner_at(sso)
    assert page.status_code == 403
    async with browser(sso) as http:
        evil = urljoin(ISSUER, "/authorize") + (
            f"?response_type=code&client_id={moodle.client_id}&scope=openid"
            "&redirect_uri=https://evil.example.org/cb&state=s"
        )
        answer = await http.get(evil)
    assert answer.status_code == 400
    assert "return-to-platform" not in answer.text
    assert 'href="https://evil' not in answer.text


async def test_in_chromium_the_way_back_takes_the_learner_to_the_platform_told_why(
    sso: FastAPI, page: object
) -> None:
    from playwright.async_api import Page, Route

    assert isinstance(page, Page)
    refused, state, _, moodle = await suspended_learner_at(sso)
    reached: list[str] = []

    async def platform(route: Route) -> None:
        reached.append(route.request.url)
        await route.fulfill(status=200, content_type="text/plain", body="platform")

    await page.route("https://**/*", platform)
    await page.set_content(refused.text)
    alert = page.get_by_role("alert")
    assert "suspendu" in await alert.inner_text()
    await page.get_by_role("link", name="Revenir à « Moodle Lycée »").click()
    await page.wait_for_url(f"{moodle.redirect_uri}?**")
    assert len(reached) == 1
    answer = query_of(reached[0])
    assert (answer["error"], answer["state"]) == ("access_denied", state)


async def test_prompt_none_gets_the_error_at_once_without_a_page(sso: FastAPI) -> None:
    """OIDC Core §3.1.2.1: with prompt=none no page may be shown (silent sign-in)."""
    account = await make_user(sso)
    moodle = await make_client(sso)
    verifier = generate_token(48)
    await suspend_by_hand(sso, account)
    async with relying_party(sso, moodle) as rp, browser(sso) as http:
        url, _ = rp.create_authorization_url(f"{ISSUER}/authorize", code_verifier=verifier)
        # Signed in (the page is shown), then a silent request from the same browser.
        assert (await login_through_form(http, url, account)).status_code == 403
        url, state = rp.create_authorization_url(
            f"{ISSUER}/authorize", code_verifier=verifier, prompt="none"
        )
        silent = await http.get(url)
    assert silent.status_code == 302
    assert silent.headers["location"].startswith(moodle.redirect_uri)
    answer = query_of(silent.headers["location"])
    assert (answer["error"], answer["state"]) == ("access_denied", state)
