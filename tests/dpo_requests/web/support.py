"""Browsers of the pages, as httpx clients over ASGI carrying a real signed session cookie (the
login itself, through the real gateway, is the browser test's part)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from dpo_requests.web.session import SESSION_COOKIE, encode_session, new_session
from tests.dpo_requests.support import Dpo

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def browser(
    dpo: Dpo, subject: str | None, *roles: str, name: str = "Camille Martin", **headers: str
) -> AsyncIterator[httpx.AsyncClient]:
    cookies = {}
    if subject is not None:
        session = new_session(
            subject=subject,
            name=name,
            email=f"{subject}@example.org",
            roles=frozenset(roles),
            id_token=None,
        )
        cookies[SESSION_COOKIE] = encode_session(dpo.settings, session)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dpo.app),
        base_url="http://dpo.test",
        cookies=cookies,
        headers=headers,
    ) as client:
        yield client


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)
