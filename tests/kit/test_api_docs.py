"""The API docs: Swagger UI from the service's own files (nothing from a CDN, so the page works
offline), on in development, off in production unless asked for."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from audit_log.app import create_app as create_audit_app
from audit_log.config import Settings as AuditSettings
from tests.fixtures.serving import serving
from vigie_shared.kit import api_docs
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.settings import ServiceSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET = "s" * 40


def app_with(settings: ServiceSettings) -> FastAPI:
    app = FastAPI(title="t", **api_docs.fastapi_options(settings))
    api_docs.install(app, settings)
    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc.test"
    ) as http:
        return await http.get(path)


async def test_a_services_docs_page_loads_only_files_the_service_serves() -> None:
    app = create_audit_app(AuditSettings(env="development"))
    page = await get(app, "/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    urls += re.findall(r"""url: ?['"]([^'"]+)['"]""", page.text)
    assert urls
    assert all(url.startswith("/") for url in urls), urls
    for url in urls:
        assert (await get(app, url)).status_code == 200, url
    assert (await get(app, "/openapi.json")).json()["info"]["title"] == "Vigie audit log"


async def test_production_serves_neither_docs_nor_openapi_unless_asked() -> None:
    quiet = app_with(ServiceSettings(env="production", secret_key=SECRET))
    asked = app_with(ServiceSettings(env="production", secret_key=SECRET, api_docs=True))
    assert (await get(quiet, "/docs")).status_code == 404
    assert (await get(quiet, "/openapi.json")).status_code == 404
    assert (await get(quiet, "/redoc")).status_code == 404
    assert (await get(asked, "/docs")).status_code == 200
    assert (await get(asked, "/openapi.json")).status_code == 200


async def test_development_may_turn_the_docs_off() -> None:
    off = app_with(ServiceSettings(env="development", api_docs=False))
    assert (await get(off, "/docs")).status_code == 404
    assert (await get(off, "/openapi.json")).status_code == 404


async def test_the_docs_page_renders_in_a_browser_with_no_internet(page: object) -> None:
    """In Chromium, every request but loopback's refused (as on a machine offline): Swagger UI
    still draws the API's operations."""
    from playwright.async_api import Page, Route

    assert isinstance(page, Page)
    app = create_audit_app(AuditSettings(env="development"))
    port = free_port()
    outside: list[str] = []

    async def offline(route: Route) -> None:
        if route.request.url.startswith(f"http://127.0.0.1:{port}/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", offline)
    async with serving(app, port):
        await page.goto(f"http://127.0.0.1:{port}/docs")
        await page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
        title = await page.text_content(".swagger-ui .info .title")
    assert title is not None
    assert "Vigie audit log" in title
    assert outside == []
