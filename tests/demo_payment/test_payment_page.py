"""The demo payment page end to end in real headless Chromium: a suspended learner refused by a
training platform follows "Paiement en ligne" from the gateway's refusal page, logs in to the
portal through the gateway, pays, sees the payment recorded and then access restored, and logs
in to the platform again; and paying twice for one debt pays once."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.demo_payment.conftest import (
    PASSWORD,
    Learner,
    PaymentStack,
    settlements_of,
    suspended_learner,
)
from tests.kit.test_i18n_page_languages import assert_remembered_for_a_year, language_cookie

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def platform_rp(stack: PaymentStack) -> AsyncOAuth2Client:
    """The training platform, a relying party written with Authlib's client only."""
    return AsyncOAuth2Client(
        client_id=stack.platform.client_id,
        client_secret=stack.platform.client_secret,
        scope="openid profile",
        redirect_uri=stack.platform.redirect_uri,
        code_challenge_method="S256",
    )


async def platform_login(page: Any, stack: PaymentStack, learner: Learner) -> None:
    """The learner opens the platform, which sends them to the gateway's login form."""
    verifier = generate_token(48)
    async with platform_rp(stack) as rp:
        url, _ = rp.create_authorization_url(f"{stack.issuer}/authorize", code_verifier=verifier)
    await page.goto(url)
    await page.get_by_label("Identifiant ou adresse électronique").fill(learner.username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()


async def portal_login(page: Any, stack: PaymentStack) -> None:
    """From the portal's welcome page: the gateway knows the learner already (single sign-on),
    so it answers the portal at once, without a form."""
    await page.get_by_role("link", name="Se connecter").click()
    await page.wait_for_url(f"{stack.portal_url}/")


async def test_suspended_learner_pays_from_the_refusal_page_and_gets_access_back(
    page: Any, stack: PaymentStack
) -> None:
    learner = await suspended_learner(stack, amount="42.00")

    # Refused by the training platform, with the payment page among what stays reachable.
    await platform_login(page, stack, learner)
    await page.get_by_role("heading", name="Accès suspendu").wait_for()
    assert "une somme due à l'établissement reste impayée" in await page.inner_text("body")
    await page.get_by_role("link", name="Paiement en ligne").click()
    await page.wait_for_url(f"{stack.portal_url}/")

    # The portal: log in through the gateway (not a training platform: open while suspended).
    await portal_login(page, stack)
    debt = page.locator(f"#debt-{learner.debt_id}")
    assert "42,00" in await debt.inner_text()
    await debt.get_by_role("button", name=re.compile(r"^Payer 42,00")).click()
    await page.wait_for_url(f"{stack.portal_url}/payments/{learner.debt_id}**")
    assert "Paiement enregistré" in await page.locator("#paid").inner_text()
    # The receipt reloads itself until the gateway's AccessRestored reaches the portal.
    await page.locator("#access", has_text="Accès rétabli").wait_for(timeout=30_000)

    # A new login to the training platform now gets a code, which the platform exchanges.
    verifier = generate_token(48)
    async with platform_rp(stack) as rp:
        url, state = rp.create_authorization_url(
            f"{stack.issuer}/authorize", code_verifier=verifier
        )
        await page.goto(url)
        await page.wait_for_url(f"{stack.platform.redirect_uri}?**")
        callback = stack.platform.callbacks[-1]
        assert parse_qs(urlsplit(callback).query)["state"] == [state]
        token = await rp.fetch_token(
            f"{stack.issuer}/token", authorization_response=callback, code_verifier=verifier
        )
        info = (await rp.get(f"{stack.issuer}/userinfo")).json()
    assert token["id_token"]
    assert info["sub"] == learner.id


async def test_paying_the_same_debt_twice_pays_once(page: Any, stack: PaymentStack) -> None:
    learner = await suspended_learner(stack, amount="15.50")
    await page.goto(f"{stack.portal_url}/")
    # Not refused first: the portal opens the gateway's login form itself.
    await page.get_by_role("link", name="Se connecter").click()
    await page.get_by_label("Identifiant ou adresse électronique").fill(learner.username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{stack.portal_url}/")
    form = page.locator(f"#debt-{learner.debt_id} form")
    csrf = await form.locator("input[name=csrf]").get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies(stack.portal_url)}

    # Three posts of the same form: two at once (a double click), then one more (a resubmit).
    async with httpx.AsyncClient(
        base_url=stack.portal_url, cookies=cookies, headers={"Origin": stack.portal_url}
    ) as http:

        async def post() -> httpx.Response:
            return await http.post("/pay", data={"csrf": csrf, "debt_id": learner.debt_id})

        answers = [*await asyncio.gather(post(), post()), await post()]
        assert all(a.status_code == 303 for a in answers), [a.text for a in answers]
        locations = [a.headers["location"] for a in answers]
        assert sum("again=1" not in where for where in locations) == 1, locations
        again = await http.get(next(where for where in locations if "again=1" in where))
    assert "rien n'a été payé une seconde fois" in html.unescape(again.text)
    assert len(await settlements_of(stack.bootstrap, learner.debt_id)) == 1


async def test_a_post_without_the_forms_token_or_from_another_site_pays_nothing(
    page: Any, stack: PaymentStack
) -> None:
    learner = await suspended_learner(stack, amount="9.99")
    await page.goto(f"{stack.portal_url}/")
    await page.get_by_role("link", name="Se connecter").click()
    await page.get_by_label("Identifiant ou adresse électronique").fill(learner.username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{stack.portal_url}/")
    csrf = await page.locator(f"#debt-{learner.debt_id} input[name=csrf]").get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies(stack.portal_url)}
    async with httpx.AsyncClient(base_url=stack.portal_url, cookies=cookies) as http:
        forged = await http.post("/pay", data={"csrf": "forged", "debt_id": learner.debt_id})
        elsewhere = await http.post(
            "/pay",
            data={"csrf": csrf, "debt_id": learner.debt_id},
            headers={"Origin": "https://evil.example.org"},
        )
    assert (forged.status_code, elsewhere.status_code) == (403, 403)
    assert await settlements_of(stack.bootstrap, learner.debt_id) == []


async def test_only_the_gateways_authorization_request_is_kept_as_the_way_back(
    page: Any, stack: PaymentStack
) -> None:
    learner = await suspended_learner(stack, amount="5.00")
    await page.goto(f"{stack.portal_url}/")
    await page.get_by_role("link", name="Se connecter").click()
    await page.get_by_label("Identifiant ou adresse électronique").fill(learner.username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{stack.portal_url}/")
    kept = f"{stack.issuer}/authorize?client_id={stack.platform.client_id}&state=s"
    for offered, expected in (
        (kept, kept),
        ("https://evil.example.org/authorize?client_id=x", None),
        (f"{stack.issuer}/logout", None),
    ):
        await page.goto(f"{stack.portal_url}/?{urlencode({'return_to': offered})}")
        field = page.locator(f"#debt-{learner.debt_id} input[name=return_to]")
        assert (await field.get_attribute("value") if await field.count() else None) == expected


async def test_the_portal_speaks_french_first_and_english_when_asked(stack: PaymentStack) -> None:
    async with httpx.AsyncClient(base_url=stack.portal_url) as http:
        default = await http.get("/", headers={"Accept-Language": "de, en;q=0.5, fr;q=0.4"})
        french = await http.get("/")
        asked = await http.get("/?ui_locales=en-GB fr")
        chosen = await http.get("/?lang=en", headers={"Accept-Language": "fr"})
        remembered = await http.get("/", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in default.text
    assert '<html lang="fr">' in french.text
    assert "Se connecter" in french.text
    assert '<html lang="en">' in asked.text
    assert "Log in" in asked.text
    assert '<html lang="en">' in chosen.text
    # The reader's choice on our page outlasts the browser's settings (a cookie).
    assert '<html lang="en">' in remembered.text


async def test_the_portal_links_to_itself_in_the_other_language_and_remembers_the_pick(
    stack: PaymentStack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.portal_url) as http:
        french = await http.get("/")
        english = await http.get("/?lang=en")
    assert '<a href="/?lang=en" hreflang="en" lang="en">English</a>' in french.text
    assert '<a href="/?lang=fr" hreflang="fr" lang="fr">Français</a>' in english.text
    assert language_cookie(french.headers.get_list("set-cookie"), "vigie_payment_lang") is None
    assert_remembered_for_a_year(english.headers.get_list("set-cookie"), "vigie_payment_lang", "en")
