"""The browser fixture really drives Chromium against a page served here."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from vigie_shared.kit.embedded import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_chromium_submits_a_form_served_on_localhost(page: Any) -> None:
    import asyncio

    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    async def form() -> str:
        return (
            '<form method="post" action="/hello"><label for="n">Nom</label>'
            '<input id="n" name="n"><button>Envoyer</button></form>'
        )

    @app.post("/hello", response_class=HTMLResponse)
    async def hello() -> str:
        return "<h1>Bonjour</h1>"

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.get_by_label("Nom").fill("Camille")
        await page.get_by_role("button", name="Envoyer").click()
        assert await page.locator("h1").inner_text() == "Bonjour"
    finally:
        server.should_exit = True
        await task
