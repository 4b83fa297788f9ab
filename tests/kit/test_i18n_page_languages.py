"""The kit's pages in each language (``PageLanguages``): a request's language (``?lang``, then
the cookie, then ``ui_locales``, then Accept-Language's weights), the link to the page in the
other language, and the cookie that remembers the reader's pick."""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import Morsel, SimpleCookie
from pathlib import Path

import pytest
from fastapi import Request, Response
from jinja2 import DictLoader

from tests.kit.test_pages_i18n import write_catalogue
from vigie_shared.kit.i18n import LANGUAGE_COOKIE_MAX_AGE, PageLanguages, language_name

COOKIE = "test_lang"


@pytest.fixture
def pages(tmp_path: Path) -> PageLanguages:
    catalogues = write_catalogue(tmp_path, {"Sign in": "Connexion"})
    loader = DictLoader({"page.html": '<html lang="{{ lang }}">{{ _("Sign in") }}</html>'})
    return PageLanguages(catalogues, loader, cookie=COOKIE)


def request(
    query: str = "",
    *,
    cookie: str | None = None,
    accept_language: str | None = None,
    path: str = "/pages/x",
) -> Request:
    headers = [(b"host", b"pages.example")]
    if cookie is not None:
        headers.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    if accept_language is not None:
        headers.append((b"accept-language", accept_language.encode()))
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "server": ("pages.example", 443),
            "path": path,
            "query_string": query.encode(),
            "headers": headers,
        }
    )


def language_cookie(set_cookie: Iterable[str], cookie: str) -> Morsel[str] | None:
    """The cookie ``cookie`` among a response's ``Set-Cookie`` fields, if one sets it."""
    jar: SimpleCookie = SimpleCookie()
    for field in set_cookie:
        jar.load(field)
    return jar.get(cookie)


def assert_remembered_for_a_year(set_cookie: Iterable[str], cookie: str, lang: str) -> None:
    """The pages' language cookie: ``lang``, for a year, site-wide, ``SameSite=Lax``."""
    morsel = language_cookie(set_cookie, cookie)
    assert morsel is not None
    assert morsel.value == lang
    assert morsel["max-age"] == str(LANGUAGE_COOKIE_MAX_AGE) == str(365 * 24 * 3600)
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"


def set_cookie(response: Response) -> list[str]:
    return [value.decode() for name, value in response.raw_headers if name == b"set-cookie"]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        # Nothing asked: the first language, the institution's.
        (request(), "fr"),
        # RFC 9110 §12.5.4: the weights decide, not the order; q=0 is "not acceptable".
        (request(accept_language="fr;q=0.3, en;q=0.7"), "en"),
        (request(accept_language="en;q=0, *"), "fr"),
        (request(accept_language="de, en-GB;q=0.5"), "en"),
        # The remembered pick outweighs the browser; a pick on this request outweighs both.
        (request(cookie="en", accept_language="fr"), "en"),
        (request("lang=fr", cookie="en", accept_language="en"), "fr"),
        # An unsupported pick is passed over.
        (request("lang=de", cookie="en"), "en"),
    ],
)
def test_the_reader_s_pick_then_the_cookie_then_accept_language_s_weights(
    pages: PageLanguages, asked: Request, expected: str
) -> None:
    assert pages.negotiate(asked) == expected


def test_ui_locales_come_after_the_reader_s_picks_and_before_the_browser(
    pages: PageLanguages,
) -> None:
    browser = request(accept_language="fr")
    assert pages.negotiate(browser, ui_locales="de en-GB") == "en"
    assert pages.negotiate(request("lang=fr"), ui_locales="en") == "fr"
    assert pages.negotiate(request(cookie="fr"), ui_locales="en") == "fr"


def test_each_language_renders_with_its_own_catalogue(pages: PageLanguages) -> None:
    assert pages.render("fr", "page.html") == '<html lang="fr">Connexion</html>'
    assert pages.render("en", "page.html") == '<html lang="en">Sign in</html>'


def test_the_link_to_the_other_language_is_this_page_relative_to_the_site(
    pages: PageLanguages,
) -> None:
    asked = request("type=access&done=sent&lang=fr", path="/pages/dpo/queue")
    assert pages.other("fr") == "en"
    assert pages.other("en") == "fr"
    assert pages.url(asked, "en") == "/pages/dpo/queue?type=access&done=sent&lang=en"
    assert pages.url(asked, "en", drop=("done",)) == "/pages/dpo/queue?type=access&lang=en"


def test_a_pick_on_our_pages_is_remembered_for_a_year(pages: PageLanguages) -> None:
    response = Response()
    pages.remember(request("lang=en"), response, secure=True)
    assert_remembered_for_a_year(set_cookie(response), COOKIE, "en")
    secure = language_cookie(set_cookie(response), COOKIE)
    assert secure is not None
    assert secure["secure"] is True
    local = Response()
    pages.remember(request("lang=fr"), local, secure=False)
    assert_remembered_for_a_year(set_cookie(local), COOKIE, "fr")
    insecure = language_cookie(set_cookie(local), COOKIE)
    assert insecure is not None
    assert not insecure["secure"]


@pytest.mark.parametrize("query", ["", "lang=de", "other=en"])
def test_no_pick_sets_no_cookie(pages: PageLanguages, query: str) -> None:
    response = Response()
    pages.remember(request(query, cookie="en", accept_language="en"), response, secure=False)
    assert language_cookie(set_cookie(response), COOKIE) is None


def test_pages_without_a_cookie_read_and_set_none(tmp_path: Path) -> None:
    catalogues = write_catalogue(tmp_path, {})
    pages = PageLanguages(catalogues, DictLoader({}), cookie=None)
    assert pages.negotiate(request(cookie="en", accept_language="fr")) == "fr"
    assert pages.negotiate(request("lang=en", accept_language="fr")) == "en"
    response = Response()
    pages.remember(request("lang=en"), response, secure=True)
    assert set_cookie(response) == []


def test_a_language_is_named_in_itself() -> None:
    assert language_name("fr") == "Français"
    assert language_name("en") == "English"
