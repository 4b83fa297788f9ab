"""The gateway's pages in one language each: texts from the gettext catalogue, the language
from ``lang``, then ``ui_locales`` (OIDC Core §3.1.2.1), then Accept-Language (RFC 9110
§12.5.4); error details in the page's language; the pages' shared stylesheet."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode, urlsplit

import pytest
from fastapi import FastAPI

from sso_gateway.login.pages import PACKAGE, catalogues
from tests.sso_gateway.login.support import ENGLISH_ONLY, FRENCH_ONLY, words
from tests.sso_gateway.support import browser, make_client
from vigie_shared.kit.i18n import stylesheet_path, untranslated

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


def visible_text(page: str, *, skip_lang: str) -> str:
    """The page's text as read, without its style, and without the parts marked as another
    language (the link to the other language, WCAG 3.1.2)."""
    page = re.sub(r"<style>.*?</style>|<title>.*?</title>", " ", page, flags=re.S)
    page = re.sub(rf'<a [^>]*lang="{skip_lang}"[^>]*>.*?</a>', " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_every_message_of_the_templates_and_the_code_has_a_french_translation() -> None:
    assert untranslated(PACKAGE, PACKAGE / "locale" / "babel.cfg", catalogues) == []


async def test_the_word_lists_are_not_empty() -> None:
    assert {"connexion", "mot", "passe"} <= FRENCH_ONLY
    assert {"password", "username"} <= ENGLISH_ONLY


def unknown_client(**extra: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "no-such-platform",
        "redirect_uri": "https://nowhere.example.org/cb",
        "scope": "openid",
        "state": "s",
        **extra,
    }
    return "/authorize?" + urlencode(query)


async def test_an_error_page_under_ui_locales_en_is_in_english_heading_and_detail(
    sso: FastAPI,
) -> None:
    async with browser(sso) as http:
        page = await http.get(unknown_client(ui_locales="en"), headers={"accept-language": "fr"})
    assert page.status_code == 400
    assert '<html lang="en">' in page.text
    text = visible_text(page.text, skip_lang="fr")
    assert "<h1>Request refused</h1>" in page.text
    assert "not known to the sign-in service" in text
    assert "invalid_client" in text
    assert words(text) & FRENCH_ONLY == set()


async def test_an_error_page_follows_accept_language_without_ui_locales(sso: FastAPI) -> None:
    async with browser(sso) as http:
        french = await http.get(unknown_client(), headers={"accept-language": "fr-FR,fr;q=0.9"})
        english = await http.get(unknown_client(), headers={"accept-language": "en;q=0.9,fr;q=0.3"})
    assert "<h1>Requête refusée</h1>" in french.text
    assert "n'est pas connue du service de connexion" in visible_text(french.text, skip_lang="en")
    assert words(visible_text(french.text, skip_lang="en")) & ENGLISH_ONLY == set()
    assert "<h1>Request refused</h1>" in english.text


async def test_an_unregistered_return_address_is_explained_in_the_pages_language(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    query = {
        "response_type": "code",
        "client_id": platform.client_id,
        "redirect_uri": "https://evil.example.org/cb",
        "scope": "openid",
        "code_challenge": "v" * 43,
        "code_challenge_method": "S256",
    }
    async with browser(sso) as http:
        en = await http.get("/authorize?" + urlencode({**query, "ui_locales": "en"}))
        fr = await http.get("/authorize?" + urlencode(query))
    assert en.status_code == fr.status_code == 400
    assert "not one registered for it" in visible_text(en.text, skip_lang="fr")
    assert "n'est pas l'une des siennes" in html.unescape(fr.text)
    assert "evil.example.org" not in en.text + fr.text


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"accept-language": "en-GB,en;q=0.9"}, "", "en"),
        ({"accept-language": "fr;q=0.2, en;q=0.8"}, "", "en"),
        ({"accept-language": "de, fr;q=0.5"}, "", "fr"),
        ({"accept-language": "en"}, "?lang=fr", "fr"),
        ({}, "", "fr"),
    ],
)
async def test_the_login_page_honours_weights_and_an_explicit_choice(
    sso: FastAPI, headers: dict[str, str], query: str, expected: str
) -> None:
    async with browser(sso) as http:
        page = await http.get(f"/login{query}", headers=headers)
    assert f'<html lang="{expected}">' in page.text
    other = "fr" if expected == "en" else "en"
    foreign = FRENCH_ONLY if expected == "en" else ENGLISH_ONLY
    assert words(visible_text(page.text, skip_lang=other)) & foreign == set()


async def test_authorize_hands_ui_locales_to_the_login_page_or_leaves_the_browser_to_choose(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    query = {
        "response_type": "code",
        "client_id": platform.client_id,
        "redirect_uri": platform.redirect_uri,
        "scope": "openid",
        "code_challenge": "v" * 43,
        "code_challenge_method": "S256",
    }
    async with browser(sso) as http:
        asked = await http.get("/authorize?" + urlencode({**query, "ui_locales": "de en"}))
        unasked = await http.get("/authorize?" + urlencode(query))
        login = await http.get(unasked.headers["location"], headers={"accept-language": "en"})
    assert "lang=en" in urlsplit(asked.headers["location"]).query
    assert "lang=" not in urlsplit(unasked.headers["location"]).query
    assert '<html lang="en">' in login.text


async def test_the_pages_carry_the_kits_one_stylesheet(sso: FastAPI) -> None:
    async with browser(sso) as http:
        page = await http.get("/login")
    css = stylesheet_path().read_text(encoding="utf-8")
    assert f"<style>{css}</style>" in page.text
    assert '<header class="top">' in page.text
