"""The DPO pages' look and languages come from the kit: the one stylesheet both services use,
the kit's negotiator (``?lang``, then the cookie, then Accept-Language's weights) and gettext
catalogues; an error page is in one language, its detail included."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from dpo_requests.web import i18n
from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser, csrf_of
from tests.kit.test_i18n_page_languages import assert_remembered_for_a_year, language_cookie
from vigie_shared.kit.i18n import stylesheet_path, untranslated

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


async def test_the_pages_serve_the_kits_one_stylesheet(dpo: Dpo) -> None:
    async with browser(dpo, None) as b:
        home = await b.get("/pages/")
        css = await b.get("/pages/static/vigie.css")
    assert '<link rel="stylesheet" href="/pages/static/vigie.css">' in home.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.content == stylesheet_path().read_bytes()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("fr;q=0.3, en;q=0.7", "en"),
        ("en;q=0, *", "fr"),
        ("de, en-GB;q=0.5", "en"),
        ("de", "fr"),
    ],
)
async def test_accept_language_weights_choose_the_pages_language(
    dpo: Dpo, accept: str, expected: str
) -> None:
    async with browser(dpo, unique("u"), "learner", **{"accept-language": accept}) as b:
        page = await b.get("/pages/requests/new")
    assert f'<html lang="{expected}">' in page.text


async def test_lang_then_the_cookie_outweigh_the_browser(dpo: Dpo) -> None:
    async with browser(dpo, unique("u"), "learner", **{"accept-language": "fr"}) as b:
        asked = await b.get("/pages/requests/new?lang=en")
        remembered = await b.get("/pages/requests/new")
    assert '<html lang="en">' in asked.text
    assert '<html lang="en">' in remembered.text


async def test_every_message_of_the_pages_has_a_french_translation() -> None:
    package = Path(i18n.__file__).parent
    assert untranslated(package, package / "locale" / "babel.cfg", i18n.catalogues) == []


async def test_an_error_page_is_in_one_language_title_and_detail(dpo: Dpo) -> None:
    learner = unique("u")
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        data = {"csrf": token, "request_type": "rectification"}
        french = await b.post("/pages/requests", data=data)
        english = await b.post("/pages/requests?lang=en", data=data)
    assert french.status_code == english.status_code == 422
    assert "<h1>Saisie incomplète ou invalide</h1>" in french.text
    assert "indique les corrections (RGPD, art. 16)" in french.text
    assert "<h1>Invalid input</h1>" in english.text
    assert "lists the corrections (GDPR Art. 16)" in english.text
    assert "RGPD" not in english.text.split("<footer")[0]


async def test_a_refusal_of_the_service_is_explained_in_the_pages_language(dpo: Dpo) -> None:
    learner = unique("u")
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        sent = await b.post("/pages/requests", data={"csrf": token, "request_type": "access"})
        path = sent.headers["location"].split("?")[0]
        withdraw = {"csrf": token, "confirm": "yes"}
        await b.post(f"{path}/withdraw", data=withdraw)
        french = await b.post(f"{path}/withdraw", data=withdraw)
        english = await b.post(f"{path}/withdraw?lang=en", data=withdraw)
    assert french.status_code == english.status_code == 409
    assert "n'est pas possible dans l'état actuel de la demande" in html.unescape(french.text)
    assert "<h1>Not possible in the current state</h1>" in english.text


async def test_the_link_to_the_other_language_is_this_page_without_its_one_time_notice(
    dpo: Dpo,
) -> None:
    async with browser(dpo, unique("u"), "learner", **{"accept-language": "fr"}) as b:
        french = await b.get("/pages/requests/new?done=submitted&request_type=access")
        english = await b.get("/pages/requests/new?request_type=access&lang=en")
    link = '<a href="/pages/requests/new?request_type=access&amp;lang=en" hreflang="en" lang="en">'
    assert f"{link}English</a>" in french.text
    back = '<a href="/pages/requests/new?request_type=access&amp;lang=fr" hreflang="fr" lang="fr">'
    assert f"{back}Français</a>" in english.text
    assert language_cookie(french.headers.get_list("set-cookie"), "vigie_dpo_lang") is None
    assert_remembered_for_a_year(english.headers.get_list("set-cookie"), "vigie_dpo_lang", "en")
