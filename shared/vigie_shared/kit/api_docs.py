"""The services' API documentation: the OpenAPI document and Swagger UI, served with Swagger
UI's own files (from the ``fastapi-offline`` package) rather than from a CDN, so the page works
on a machine with no Internet access and loads nothing from a third party.

Both are on in development and off in production unless ``VIGIE_API_DOCS`` turns them on: an
API description helps an attacker map the surface as much as it helps an integrator (OWASP API
Security Top 10 2023, API9 "Improper Inventory Management" asks that it be a deliberate
choice)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from vigie_shared.kit.settings import ServiceSettings

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs-assets"
_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def enabled(settings: ServiceSettings) -> bool:
    return settings.api_docs if settings.api_docs is not None else settings.env == "development"


def fastapi_options(settings: ServiceSettings) -> dict[str, Any]:
    """What ``FastAPI(...)`` is given: FastAPI's own pages (which load Swagger UI and ReDoc
    from a CDN) off; the OpenAPI document only where the docs are on."""
    return {
        "docs_url": None,
        "redoc_url": None,
        "openapi_url": "/openapi.json" if enabled(settings) else None,
    }


def install(app: FastAPI, settings: ServiceSettings) -> None:
    """Swagger UI at ``/docs`` from local files, where the docs are on."""
    if not enabled(settings) or app.openapi_url is None:
        return
    openapi_url = app.openapi_url
    app.mount(ASSETS_PATH, StaticFiles(directory=_ASSETS), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} — API",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        )
