"""The charts are valid, labelled SVG without scripts; GET /dashboard is for the DPO only."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.dashboard.charts import status_chart, volume_chart
from dpo_requests.dashboard.endpoints import router
from dpo_requests.dashboard.stats import DashboardStats, load_dashboard
from dpo_requests.service import SERVICE
from tests.dpo_requests.dashboard.fixtures import TODAY, build, client, own_app
from tests.fixtures.issuer import FakeIssuer
from vigie_shared.kit import db
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")
SVG = "{http://www.w3.org/2000/svg}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str, module_schema: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, module_schema, SERVICE.migrations)
    pool = await db.create_pool(database_url, module_schema, max_size=2)
    async with pool.acquire() as conn:
        await build(conn)
    yield pool
    await pool.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stats(pool: asyncpg.Pool) -> DashboardStats:
    async with pool.acquire() as conn:
        return await load_dashboard(conn, today=TODAY)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def labelled_by(root: ET.Element) -> tuple[str, str]:
    """The accessible name and description the root's aria-labelledby points to."""
    assert root.get("role") == "img"
    ids = (root.get("aria-labelledby") or "").split()
    texts = {el.get("id"): (el.text or "") for el in root.iter() if el.get("id") in ids}
    title, desc = (texts[i] for i in ids)
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}desc") is not None
    return title, desc


async def test_volume_chart_is_labelled_svg_in_french_by_default(stats: DashboardStats) -> None:
    root = parse(volume_chart(stats, lang="fr"))
    title, desc = labelled_by(root)
    assert root.get("lang") == "fr"
    assert title == "Demandes reçues par mois, 2025 et 2026"
    assert "2025 : 7 demandes ; 2026 : 8 demandes" in desc
    assert "janv. 3 / 0" in desc
    assert "mars 2 / 2" in desc
    texts = {el.text for el in root.iter() if el.text}
    assert {"janv.", "déc.", "2025", "2026"} <= texts
    assert not list(root.iter(f"{SVG}script"))


async def test_charts_speak_english_when_asked(stats: DashboardStats) -> None:
    title, desc = labelled_by(parse(status_chart(stats, lang="en")))
    assert title == "Open requests by status (7)"
    assert desc == (
        "Received: 3, Waiting for information: 1, In progress: 3; of which 2 overdue and 2 due "
        "within 7 days."
    )
    root = parse(volume_chart(stats, lang="en"))
    assert {"Jan", "Dec"} <= {el.text for el in root.iter() if el.text}


async def test_status_chart_draws_one_bar_per_open_status(stats: DashboardStats) -> None:
    root = parse(status_chart(stats))
    bars = [el for el in root.iter(f"{SVG}rect") if "rect" in (el.get("class") or "").split()]
    assert len(bars) == 3
    widths = sorted(float(el.get("width") or 0) for el in bars)
    # received 3, identity_pending 1, in_progress 3: two equal bars, one a third as long.
    assert widths[1] == pytest.approx(widths[2])
    assert widths[0] == pytest.approx(widths[2] / 3)


async def test_dashboard_json_is_for_the_dpo_only(pool: asyncpg.Pool) -> None:
    issuer = FakeIssuer()
    async with client(own_app(pool, issuer, router)) as http:
        anonymous = await http.get("/dashboard")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        learner = await http.get("/dashboard", headers=issuer.headers("learner-A", "learner"))
        assert learner.status_code == 403
        dpo = await http.get("/dashboard", headers=issuer.headers("dpo-1", "dpo"))
    assert dpo.status_code == 200
    body = DashboardStats.model_validate(dpo.json())
    # Counted on the real today, after every hand-built receipt: the open ones stay open.
    assert body.open_total == 7
    assert body.open_by_status["identity_pending"] == 1
