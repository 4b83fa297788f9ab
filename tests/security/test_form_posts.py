"""Form posts under attack: raw and percent-encoded invalid UTF-8, posts from another site's
page (Origin), and the login page's content policy. Each test sends the attack to the real
gateway (the DPO pages' Origin check: tests/dpo_requests/web/test_form_origin.py)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import ISSUER, browser, csrf_of, make_user

pytestmark = pytest.mark.asyncio(loop_scope="session")

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "body",
    [b"identifier=\xff\xfe&password=x", b"identifier=%ff%fe&password=x", b"\xc3\x28=1"],
    ids=["raw", "percent-encoded", "in-a-name"],
)
async def test_invalid_utf8_in_the_login_form_is_the_clients_error(
    sso: FastAPI, body: bytes
) -> None:
    async with browser(sso) as http:
        answer = await http.post("/login", content=body, headers=FORM)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_login_posted_from_another_sites_page_is_refused(sso: FastAPI) -> None:
    account = await make_user(sso)
    async with browser(sso) as http:
        form = await http.get("/login")
        fields = {
            "identifier": account.username,
            "password": account.password,
            "csrf_token": csrf_of(form.text),
            "next": "/",
        }
        forged = await http.post("/login", data=fields, headers={"origin": "https://evil.test"})
        hidden = await http.post("/login", data=fields, headers={"origin": "null"})
        ours = await http.post("/login", data=fields, headers={"origin": ISSUER})
    assert forged.status_code == 403
    assert "vigie_sso" not in forged.cookies
    assert hidden.status_code == 403
    assert ours.status_code == 303


async def test_the_login_page_runs_no_script_and_loads_nothing_from_elsewhere(
    sso: FastAPI,
) -> None:
    async with browser(sso) as http:
        page = await http.get("/login")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert "script-src" not in policy  # so default-src 'none' forbids every script
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert "<script" not in page.text
