"""In real headless Chromium: the login page and the refusal page of a suspended learner, under
``ui_locales=en`` and under a French browser, each wholly in one language (heading and detail
alike) and styled by the pages' shared stylesheet."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from fastapi import FastAPI

from sso_gateway.app import create_app
from sso_gateway.config import Settings
from tests.fixtures.serving import serving
from tests.sso_gateway.login.support import ENGLISH_ONLY, FRENCH_ONLY, words
from tests.sso_gateway.support import Account, Platform, make_client, make_user, suspend_by_hand
from vigie_shared.kit.embedded import free_port

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

BRAND_BLUE = "rgb(31, 78, 121)"  # --brand in kit/static/vigie.css
# The page's own text: parts marked as another language (the language link) left out.
# The page's own words: not those marked as another language, and not the platforms' names,
# which are data an administrator registered (the session's other tests register "Paiement en
# ligne" or "Demandes RGPD"), not texts of the page.
OWN_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('#reachable-platforms a').forEach(e => e.remove());
  body.querySelectorAll('[lang]').forEach(e => {
    if (e.lang !== document.documentElement.lang) e.remove();
  });
  return body.textContent;
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gateway(database_url: str, kafka: str) -> AsyncIterator[tuple[FastAPI, str]]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka,
        env="development",
        issuer=issuer,
        backchannel_poll_seconds=0,
        login_max_failures_per_ip=1000,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), serving(app, port):
        yield app, issuer


@pytest_asyncio.fixture(loop_scope="session")
async def english(chromium: Any) -> AsyncIterator[Any]:
    context = await chromium.new_context(locale="en-US")
    yield await context.new_page()
    await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def french(chromium: Any) -> AsyncIterator[Any]:
    context = await chromium.new_context(locale="fr-FR")
    yield await context.new_page()
    await context.close()


def authorize(issuer: str, platform: Platform, **extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": platform.client_id,
        "redirect_uri": platform.redirect_uri,
        "scope": "openid",
        "state": "st",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{issuer}/authorize?{urlencode(query)}"


async def own_words(page: Any) -> set[str]:
    return words(await page.evaluate(OWN_TEXT))


async def brand_colour(page: Any) -> str:
    colour: str = await page.evaluate(
        "getComputedStyle(document.querySelector('header.top')).backgroundColor"
    )
    return colour


async def log_in(
    page: Any, account: Account, *, identifier: str, password: str, button: str
) -> None:
    await page.get_by_label(identifier).fill(account.username)
    await page.get_by_label(password).fill(account.password)
    await page.get_by_role("button", name=button).click()
    await page.wait_for_load_state()


async def suspended(app: FastAPI) -> tuple[Account, Platform]:
    account = await make_user(app)
    platform = await make_client(app, name="Moodle")
    await suspend_by_hand(app, account)
    return account, platform


async def test_login_and_refusal_pages_under_ui_locales_en_are_wholly_english(
    gateway: tuple[FastAPI, str], english: Any
) -> None:
    app, issuer = gateway
    account, platform = await suspended(app)
    # A French browser's platform asking for English: ui_locales wins.
    await english.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})
    await english.goto(authorize(issuer, platform, ui_locales="en"))
    assert await english.locator("html").get_attribute("lang") == "en"
    assert await english.get_by_role("heading", level=1).inner_text() == "Sign in"
    assert await own_words(english) & FRENCH_ONLY == set()
    assert await brand_colour(english) == BRAND_BLUE
    await log_in(
        english,
        account,
        identifier="Username or e-mail address",
        password="Password",
        button="Sign in",
    )
    assert await english.get_by_role("heading", level=1).inner_text() == "Access suspended"
    alert = await english.get_by_role("alert").inner_text()
    assert alert.startswith("Your access to the training platforms is suspended")
    assert await own_words(english) & FRENCH_ONLY == set()
    assert await english.get_by_role("link", name="Back to “Moodle”").count() == 1
    assert await brand_colour(english) == BRAND_BLUE


async def test_login_and_refusal_pages_for_a_french_browser_are_wholly_french(
    gateway: tuple[FastAPI, str], french: Any
) -> None:
    app, issuer = gateway
    account, platform = await suspended(app)
    await french.goto(authorize(issuer, platform))
    assert await french.locator("html").get_attribute("lang") == "fr"
    assert await french.get_by_role("heading", level=1).inner_text() == "Connexion"
    assert await own_words(french) & ENGLISH_ONLY == set()
    await log_in(
        french,
        account,
        identifier="Identifiant ou adresse électronique",
        password="Mot de passe",
        button="Se connecter",
    )
    assert await french.get_by_role("heading", level=1).inner_text() == "Accès suspendu"
    alert = await french.get_by_role("alert").inner_text()
    assert alert.startswith("Votre accès aux plateformes de formation est suspendu")
    assert await own_words(french) & ENGLISH_ONLY == set()
    assert await brand_colour(french) == BRAND_BLUE


async def test_an_error_page_under_ui_locales_en_has_an_english_heading_and_detail(
    gateway: tuple[FastAPI, str], french: Any
) -> None:
    _, issuer = gateway
    unknown = Platform("no-such-platform", None, "https://nowhere.example.org/cb", "")
    await french.goto(authorize(issuer, unknown, ui_locales="en"))
    assert await french.get_by_role("heading", level=1).inner_text() == "Request refused"
    detail = await french.get_by_role("alert").inner_text()
    assert detail == "The platform that sent you here is not known to the sign-in service."
    assert await own_words(french) & FRENCH_ONLY == set()
    await french.goto(authorize(issuer, unknown))
    assert await french.get_by_role("heading", level=1).inner_text() == "Requête refusée"
    detail = await french.get_by_role("alert").inner_text()
    assert detail == (
        "La plateforme qui vous a envoyé ici n'est pas connue du service de connexion."
    )
