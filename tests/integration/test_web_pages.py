"""The pages in real headless Chromium, logged in through the real sso_gateway: a learner
submits an access request and follows it; the DPO sees it on the dashboard and in the queue,
verifies it; the gateway answers its export task over the real broker, the paper archive's
manual task is done by hand on the page, and the learner downloads the package. Another
learner is refused the DPO pages and the first learner's request.

The register holds the demo data (``dpo_requests.demo``: two years of requests) so that the
dashboard screenshot saved under ``.artifacts/`` (and as ``docs/images/dpo-dashboard.png`` with
``VIGIE_UPDATE_DOCS_SCREENSHOT=1``)
shows what ``vigie up --demo`` shows.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio
from fastapi import FastAPI

from dpo_requests import demo
from dpo_requests.app import create_app as dpo_app
from dpo_requests.config import Settings as DpoSettings
from sso_gateway.app import create_app as sso_app
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import CLIENT_SECRET_PREFIX, client
from sso_gateway.config import Settings as SsoSettings
from sso_gateway.crypto import keyed_hash, new_secret
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user
from tests.fixtures.serving import eventually, own_database, serving
from tests.fixtures.stack import Broker, new_broker
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.embedded import free_port

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
SCREENSHOT = ROOT / "docs" / "images" / "dpo-dashboard.png"
PASSWORD = "mot de passe de test assez long"
T = TypeVar("T")


@dataclass
class Person:
    id: str
    username: str


@dataclass
class Stack:
    sso: FastAPI
    dpo: FastAPI
    dpo_url: str
    learner: Person
    other: Person
    officer: Person


async def person(sso: FastAPI, name: str, *roles: str) -> Person:
    username = f"{name}-{uuid.uuid4().hex[:8]}"
    async with sso.state.runtime.pool.acquire() as conn:
        created = await user.create(
            conn,
            UserCreate(
                username=username,
                email=f"{username}@example.org",
                display_name=name.capitalize(),
                password=PASSWORD,
                roles=list(roles),
            ),
        )
    return Person(created.id, username)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Broker]:
    """A broker of the module's own: data systems announced by other tests stay out of the
    fan-out."""
    data_dir = Path(tmp_path_factory.mktemp("pages-broker"))
    started = new_broker(broker_kind, data_dir, f"pages-{broker_kind}")
    started.start()
    yield started
    started.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def database_url(admin_dsn: str, broker_kind: str) -> AsyncIterator[str]:
    """A database of the module's own, for each broker: a service's outbox relay leads its
    schema through an advisory lock, so a long-lived gateway of another test on the session
    database (and another broker) would relay the announcement of the gateway started here."""
    name = f"vigie_pages_{broker_kind.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    async with own_database(admin_dsn, name) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url: str, broker: Broker) -> AsyncIterator[Stack]:
    sso_port, dpo_port = free_port(), free_port()
    issuer, dpo_url = f"http://127.0.0.1:{sso_port}", f"http://127.0.0.1:{dpo_port}"
    sso_settings = SsoSettings(
        database_url=database_url,
        kafka_bootstrap=broker.bootstrap,
        issuer=issuer,
        backchannel_poll_seconds=0,
        login_max_failures_per_ip=1000,
    )
    # The pages' confidential client, as `vigie client add` would register it.
    pages_client = ClientCreate(
        client_id=f"dpo-pages-{uuid.uuid4().hex[:6]}",
        name="Demandes RGPD",
        training_platform=False,
        redirect_uris=[f"{dpo_url}/pages/auth/callback"],
        post_logout_redirect_uris=[f"{dpo_url}/pages/"],
    )
    secret = new_secret(CLIENT_SECRET_PREFIX)
    sso = sso_app(sso_settings)
    dpo = dpo_app(
        DpoSettings(
            database_url=database_url,
            kafka_bootstrap=broker.bootstrap,
            issuer=issuer,
            public_url=dpo_url,
            oidc_client_id=pages_client.client_id,
            oidc_client_secret=secret,
            scheduler_interval_seconds=0.5,
        ),
    )
    async with AsyncExitStack() as running:
        # Each start waits for its consumer groups to form: start both side by side.
        await asyncio.gather(
            running.enter_async_context(sso.router.lifespan_context(sso)),
            running.enter_async_context(dpo.router.lifespan_context(dpo)),
        )
        await running.enter_async_context(serving(sso, sso_port))
        await running.enter_async_context(serving(dpo, dpo_port))
        async with sso.state.runtime.pool.acquire() as conn:
            await client.register(
                conn,
                pages_client,
                secret_hash=keyed_hash(sso_settings.secret_key, secret),
            )
        pool: asyncpg.Pool = dpo.state.runtime.pool
        async with pool.acquire() as conn:
            await demo.seed(conn, now=utcnow())
        # The gateway announces itself as a data system when it starts.
        announced = await eventually(
            lambda: pool.fetchval("SELECT count(*) FROM data_systems WHERE name = 'sso_gateway'"),
            until=lambda n: n == 1,
        )
        assert announced == 1, "the gateway's DataSystemAnnounced never reached dpo_requests"
        yield Stack(
            sso=sso,
            dpo=dpo,
            dpo_url=dpo_url,
            learner=await person(sso, "camille", "learner"),
            other=await person(sso, "yanis", "learner"),
            officer=await person(sso, "dpo", "dpo"),
        )


async def log_in(chromium: Any, stack: Stack, who: Person, **context: Any) -> Any:
    browser_context = await chromium.new_context(locale="fr-FR", **context)
    page = await browser_context.new_page()
    await page.goto(f"{stack.dpo_url}/pages/")
    await page.get_by_role("link", name="Se connecter").click()
    await page.get_by_label("Identifiant ou adresse électronique").fill(who.username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{stack.dpo_url}/pages/**")
    return page


async def test_learner_and_dpo_pages_in_chromium(chromium: Any, stack: Stack) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pool: asyncpg.Pool = stack.dpo.state.runtime.pool

    # The learner logs in through the SSO and submits an access request.
    learner = await log_in(chromium, stack, stack.learner, viewport={"width": 390, "height": 844})
    assert learner.url == f"{stack.dpo_url}/pages/requests"
    await learner.get_by_role("link", name="Nouvelle demande", exact=True).click()
    await learner.get_by_label("Accès à mes données (art. 15)").check()
    await learner.get_by_label("Message (facultatif)").fill("Je souhaite une copie de mes données.")
    await learner.get_by_role("button", name="Envoyer la demande").click()
    await learner.wait_for_url(re.compile(r".*/pages/requests/r-[0-9a-f]+\?done=submitted$"))
    request_id = learner.url.rsplit("/", 1)[1].split("?")[0]
    assert await learner.get_by_role("status").inner_text() == "Votre demande est enregistrée."
    assert "Reçue" in await learner.locator("main").inner_text()
    due = await pool.fetchval("SELECT due_on FROM requests WHERE id = $1", request_id)
    assert due.strftime("%d/%m/%Y") in await learner.locator(".due").inner_text()
    await learner.screenshot(path=str(ARTIFACTS / "learner-request-phone.png"), full_page=True)

    # The DPO sees it in the dashboard counters and in the queue, and verifies it.
    officer = await log_in(chromium, stack, stack.officer, viewport={"width": 1280, "height": 900})
    assert officer.url == f"{stack.dpo_url}/pages/dpo"
    open_now = await pool.fetchval(
        "SELECT count(*) FROM requests WHERE status IN ('received', 'identity_pending',"
        " 'in_progress')"
    )
    assert await officer.locator("#open-total").inner_text() == str(open_now)
    assert int(await officer.locator("td[data-type=access]").inner_text()) >= 1
    await officer.screenshot(path=str(ARTIFACTS / "dpo-dashboard.png"), full_page=True)
    if os.environ.get("VIGIE_UPDATE_DOCS_SCREENSHOT"):
        # README's picture: refreshed on request, so that a test run leaves the tree clean.
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await officer.screenshot(path=str(SCREENSHOT), full_page=True)
    await officer.get_by_role("link", name="File de travail").click()
    await officer.get_by_label("Type").select_option("access")
    await officer.get_by_label("Statut").select_option("received")
    await officer.get_by_role("button", name="Filtrer").click()
    await officer.get_by_role("link", name=request_id).click()
    assert f"{stack.learner.username}@example.org" in await officer.locator(".facts").inner_text()
    await officer.locator("#confirm-verify").check()
    await officer.get_by_role("button", name="Identité vérifiée : lancer le traitement").click()
    await officer.wait_for_url(f"**/pages/dpo/requests/{request_id}?done=recorded")
    assert "En cours" in await officer.locator("main").inner_text()

    # The gateway answers its export over the broker; the paper archives are done by hand.
    async def tasks() -> dict[str, str]:
        rows = await pool.fetch(
            "SELECT system, status FROM tasks WHERE request_id = $1", request_id
        )
        return {r["system"]: r["status"] for r in rows}

    answered = await eventually(tasks, until=lambda t: t.get("sso_gateway") == "completed")
    assert answered["sso_gateway"] == "completed"
    assert answered[demo.MANUAL_SYSTEM] == "pending"
    await officer.reload()
    manual = officer.locator("form[action$='/complete']")
    await manual.get_by_label("Ce qui a été fait").fill("Aucun dossier papier à ce nom")
    await manual.get_by_role("checkbox").check()
    await manual.get_by_role("button", name="Marquer comme faite").click()
    await officer.wait_for_url(f"**/pages/dpo/requests/{request_id}?done=recorded")
    assert "Traitée" in await officer.locator("main").inner_text()

    # The learner downloads the package while the link is valid.
    await learner.reload()
    assert "Traitée" in await learner.locator("main").inner_text()
    async with learner.expect_download() as download_info:
        await learner.get_by_role("link", name="Télécharger mes données (zip)").click()
    download = await download_info.value
    content = await asyncio.to_thread(Path(await download.path()).read_bytes)
    archive = zipfile.ZipFile(io.BytesIO(content))
    document = json.loads(archive.read("data.json"))
    assert document["request"]["id"] == request_id
    gateway = document["systems"]["sso_gateway"]["data"]
    assert gateway["found"] is True
    assert stack.learner.username in json.dumps(gateway["profile"])
    assert document["systems"][demo.MANUAL_SYSTEM]["note"] == "Aucun dossier papier à ce nom"

    # Another learner is refused the DPO pages and the first learner's request.
    other = await log_in(chromium, stack, stack.other)
    forbidden = await other.goto(f"{stack.dpo_url}/pages/dpo")
    assert forbidden is not None
    assert forbidden.status == 403
    assert await other.locator("h1").inner_text() == "Accès refusé"
    hidden = await other.goto(f"{stack.dpo_url}/pages/requests/{request_id}")
    assert hidden is not None
    assert hidden.status == 404
    assert request_id not in await other.locator("main").inner_text()

    # Logging out ends the SSO session too (RP-Initiated Logout) and lands on the home page.
    await learner.get_by_role("button", name=re.compile("Se déconnecter")).click()
    await learner.wait_for_url(f"{stack.dpo_url}/pages/")
    await learner.goto(f"{stack.dpo_url}/pages/requests")
    assert "/login" in learner.url
    for page in (learner, officer, other):
        await page.context.close()
