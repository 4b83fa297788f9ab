"""The DPO pages' look and languages come from the kit: the one stylesheet both services use,
and the kit's negotiator (``?lang``, then the cookie, then Accept-Language's weights)."""

from __future__ import annotations

import pytest

from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser
from vigie_shared.kit.i18n import stylesheet_path

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
