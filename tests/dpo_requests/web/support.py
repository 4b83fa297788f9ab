"""Browsers of the pages, as httpx clients over ASGI carrying the cookie of a real server-side
session (the login itself, through the real gateway, is the browser test's part)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from dpo_requests.web.session import SESSION_COOKIE, open_session
from tests.dpo_requests.support import Dpo

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def browser(
    dpo: Dpo,
    subject: str | None,
    *roles: str,
    name: str = "Camille Martin",
    sid: str | None = None,
    **headers: str,
) -> AsyncIterator[httpx.AsyncClient]:
    cookies = {}
    if subject is not None:
        async with dpo.app.state.runtime.pool.acquire() as conn:
            token, _ = await open_session(
                conn,
                dpo.settings,
                subject=subject,
                name=name,
                email=f"{subject}@example.org",
                roles=frozenset(roles),
                id_token=None,
                sid=sid,
            )
        cookies[SESSION_COOKIE] = token
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
