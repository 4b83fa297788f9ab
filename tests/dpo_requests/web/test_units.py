"""Pure parts of the pages: language negotiation, redirect targets, session cookies."""

from __future__ import annotations

import pytest
from fastapi import Request

from dpo_requests.config import Settings
from dpo_requests.web import i18n
from dpo_requests.web.page_edges import safe_next
from dpo_requests.web.session import WebSession, csrf_token, csrf_valid
from sso_gateway.demo import demo_secret, pages_client
from vigie_shared.cli import pages_env
from vigie_shared.kit.settings import DEV_SECRET


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "fr"),
        ("en-US,en;q=0.9", "en"),
        ("de-DE,de;q=0.9,en;q=0.8,fr;q=0.7", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en;q=0.5,fr;q=0.5", "fr"),
        ("es, it", "fr"),
        ("en;q=bad", "en"),
    ],
)
def test_accept_language_picks_the_best_supported_language(header: str, expected: str) -> None:
    asked = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/pages/",
            "query_string": b"",
            "headers": [(b"accept-language", header.encode())],
        }
    )
    assert i18n.negotiate(asked) == expected


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (None, "/pages/"),
        ("/pages/dpo/queue?type=access", "/pages/dpo/queue?type=access"),
        ("//evil.example/x", "/pages/"),
        ("https://evil.example/", "/pages/"),
        ("javascript:alert(1)", "/pages/"),
    ],
)
def test_after_login_only_a_path_of_this_site(asked: str | None, expected: str) -> None:
    assert safe_next(asked) == expected


def test_a_csrf_token_belongs_to_one_session_and_one_key() -> None:
    settings = Settings(secret_key="k" * 40)
    other_key = Settings(secret_key="z" * 40)
    one = WebSession(subject="u", name="U", email=None, roles=frozenset(), csrf_seed="a" * 32)
    two = WebSession(subject="u", name="U", email=None, roles=frozenset(), csrf_seed="b" * 32)
    token = csrf_token(settings, one)
    assert csrf_valid(settings, one, token)
    assert not csrf_valid(settings, two, token)
    assert not csrf_valid(other_key, one, token)
    assert not csrf_valid(settings, one, None)


def test_session_cookies_are_secure_outside_development() -> None:
    assert not Settings(env="development").secure_cookies
    assert Settings(env="production", secret_key="p" * 40).secure_cookies


def test_vigie_up_demo_hands_the_pages_the_client_the_gateway_registers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("VIGIE_PUBLIC_URL", "VIGIE_OIDC_CLIENT_SECRET", "VIGIE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    demo = pages_env(8123, demo=True)
    assert demo["VIGIE_PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert demo["VIGIE_OIDC_CLIENT_ID"] == "dpo-pages"
    registered = pages_client(demo["VIGIE_PUBLIC_URL"])
    assert registered.client_id == "dpo-pages"
    assert registered.redirect_uris == ["http://127.0.0.1:8123/pages/auth/callback"]
    assert not registered.training_platform
    assert demo["VIGIE_OIDC_CLIENT_SECRET"] == demo_secret(DEV_SECRET, "dpo-pages")
    assert "VIGIE_OIDC_CLIENT_SECRET" not in pages_env(8123, demo=False)
    monkeypatch.setenv("VIGIE_OIDC_CLIENT_SECRET", "vigie_cs_operator-chosen")
    assert "VIGIE_OIDC_CLIENT_SECRET" not in pages_env(8123, demo=True)
