"""In real headless Chromium: a learner chooses erasure on the new-request form, is shown what
will happen, and the request exists only after "Confirmer"; "Annuler" files nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI

from dpo_requests.app import create_app
from dpo_requests.config import Settings
from dpo_requests.web.session import SESSION_COOKIE, open_session
from tests.fixtures.issuer import FakeIssuer
from tests.fixtures.serving import serving
from vigie_shared.kit.embedded import EmbeddedBroker, free_port

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


@dataclass
class Served:
    app: FastAPI
    url: str

    async def count(self, subject: str) -> int:
        found: int = await self.app.state.runtime.pool.fetchval(
            "SELECT count(*) FROM requests WHERE subject_id = $1", subject
        )
        return found

    async def log_in(self, page: Any, *roles: str) -> str:
        """A session opened as the callback would, its cookie given to the browser."""
        subject = f"u-{uuid.uuid4().hex[:8]}"
        async with self.app.state.runtime.pool.acquire() as conn:
            token, _ = await open_session(
                conn,
                self.app.state.settings,
                subject=subject,
                name="Camille Martin",
                email=f"{subject}@example.org",
                roles=frozenset(roles),
                id_token=None,
                sid=None,
            )
        await page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": self.url}])
        return subject


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(
    database_url: str, module_schema: str, module_broker: EmbeddedBroker
) -> AsyncIterator[Served]:
    """dpo_requests over real HTTP: its public URL is the one the browser's forms come from."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=module_broker.bootstrap,
        env="development",
        public_url=url,
        scheduler_interval_seconds=0.2,
    )
    app = create_app(settings, token_verifier=FakeIssuer().verifier(), schema=module_schema)
    async with app.router.lifespan_context(app), serving(app, port):
        yield Served(app, url)


async def choose_erasure(page: Any, served: Served) -> None:
    await page.goto(f"{served.url}/pages/requests/new")
    await page.get_by_label("Effacement (art. 17)").check()
    await page.get_by_label("Message (facultatif)").fill("Je quitte l'établissement.")
    await page.get_by_role("button", name="Envoyer la demande").click()
    await page.wait_for_load_state()


async def test_in_chromium_erasure_is_filed_only_after_the_confirmation_step(
    served: Served, page: Any
) -> None:
    learner = await served.log_in(page, "learner")
    await choose_erasure(page, served)
    heading = await page.get_by_role("heading", level=1).inner_text()
    consequences = await page.locator("ul.consequences").inner_text()
    assert heading == "Confirmer la demande d'effacement"
    assert "Votre compte sera fermé" in consequences
    assert "conserver" in consequences
    assert "Je quitte l'établissement." in await page.locator("blockquote").inner_text()
    # The confirmation page is shown, nothing is filed yet.
    assert await served.count(learner) == 0
    await page.get_by_role("button", name="Confirmer").click()
    await page.wait_for_url(f"{served.url}/pages/requests/r-*")
    notice = await page.get_by_role("status").inner_text()
    title = await page.get_by_role("heading", level=1).inner_text()
    assert notice == "Votre demande est enregistrée."
    assert title.startswith("Effacement (art. 17)")
    assert await served.count(learner) == 1


async def test_in_chromium_cancelling_the_erasure_files_nothing(served: Served, page: Any) -> None:
    learner = await served.log_in(page, "learner")
    await choose_erasure(page, served)
    await page.get_by_role("link", name="Annuler").click()
    await page.wait_for_url(f"{served.url}/pages/requests")
    assert await page.get_by_role("heading", level=1).inner_text() == "Mes demandes"
    assert "Vous n'avez fait aucune demande." in await page.locator("main").inner_text()
    assert await served.count(learner) == 0
