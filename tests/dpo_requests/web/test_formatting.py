"""The pages write numbers, dates and people as the reader's language does: decimals with a
comma in French, no space before a colon in English, the deadline explanation's dates in the
reader's locale, people by name where the page knows it, one name per status on the dashboard.
Rendered HTML, over HTTP where a page is served and through the pages' own renderer for the
dashboard of a hand-built register."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from fastapi import FastAPI
from starlette.requests import Request

from dpo_requests.config import Settings
from dpo_requests.dashboard.charts import status_chart, volume_chart
from dpo_requests.dashboard.stats import DashboardStats, load_dashboard
from dpo_requests.requests.repository import request_repository
from dpo_requests.service import SERVICE
from dpo_requests.web import i18n
from dpo_requests.web.formatting import fmt_actor
from dpo_requests.web.rendering import render
from tests.dpo_requests.dashboard.fixtures import TODAY, build
from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser, csrf_of
from vigie_shared.kit import db
from vigie_shared.kit.i18n import format_date
from vigie_shared.kit.migrate import migrate

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

WRITTEN_DATE = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")


def text_of(page: str) -> str:
    """What a reader sees: no tags, no attributes, entities decoded."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    # Only ASCII white space collapses: the no-break spaces French puts before "%" stay.
    return html.unescape(re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", page)))


async def new_request(dpo: Dpo, learner: str) -> str:
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        sent = await b.post("/pages/requests", data={"csrf": token, "request_type": "access"})
    assert sent.status_code == 303
    return str(sent.headers["location"]).split("?")[0].rsplit("/", 1)[-1]


async def test_english_pages_put_no_space_before_a_colon_french_ones_do(dpo: Dpo) -> None:
    learner = unique("u")
    request_id = await new_request(dpo, learner)
    async with browser(dpo, learner, "learner") as b:
        english = text_of((await b.get(f"/pages/requests/{request_id}?lang=en")).text)
        french = text_of((await b.get(f"/pages/requests/{request_id}?lang=fr")).text)
    assert "Status: Received" in english
    assert re.search(r"\w :", english) is None, re.findall(r".{20}\w :.{10}", english)
    assert "Statut : Reçue" in french


async def test_the_deadline_explanation_writes_dates_as_the_reader_does(dpo: Dpo) -> None:
    learner = unique("u")
    request_id = await new_request(dpo, learner)
    due = await dpo.pool.fetchval("SELECT due_on FROM requests WHERE id = $1", request_id)
    async with browser(dpo, learner, "learner") as b:
        english = (await b.get(f"/pages/requests/{request_id}?lang=en")).text
        french = (await b.get(f"/pages/requests/{request_id}?lang=fr")).text
    explained_en = text_of(english.split("<details>")[1].split("</details>")[0])
    explained_fr = text_of(french.split("<details>")[1].split("</details>")[0])
    assert format_date(due, "en") in explained_en  # "Apr 6, 2026"
    assert WRITTEN_DATE.search(text_of(english)) is None
    assert due.strftime("%d/%m/%Y") in explained_fr


async def test_the_timeline_names_people_and_says_what_a_system_is(dpo: Dpo) -> None:
    learner = unique("u")
    request_id = await new_request(dpo, learner)
    async with dpo.pool.acquire() as conn:
        await request_repository.add_timeline(
            conn,
            request_id,
            kind="task.completed",
            actor_kind="system",
            actor_id="archives_papier",
            detail={"system": "archives_papier"},
        )
    officer = unique("dpo")
    async with browser(dpo, officer, "dpo", name="Dominique Leroy") as b:
        token = await csrf_of(b, f"/pages/dpo/requests/{request_id}")
        asked = await b.post(
            f"/pages/dpo/requests/{request_id}/identity-request",
            data={"csrf": token, "confirm": "yes", "what": "Votre numéro d'étudiant"},
        )
        french = text_of((await b.get(f"/pages/dpo/requests/{request_id}?lang=fr")).text)
        english = text_of((await b.get(f"/pages/dpo/requests/{request_id}?lang=en")).text)
    assert asked.status_code == 303
    # The learner filed it (the requester), the DPO asked (the session's name).
    requester = f"{learner}@example.org"
    assert f"Demande reçue ({requester})" in french
    assert re.search(r"Informations d'identité demandées [^()]* \(Dominique Leroy\)", french)
    assert f"user:{officer}" not in french
    assert "— archives_papier (système : archives_papier)" in french
    assert "— archives_papier (system: archives_papier)" in english


async def test_actors_without_a_known_name() -> None:
    assert fmt_actor("user:u-1", "fr", {}) == "u-1"
    assert fmt_actor("user:u-1", "en", {"u-1": "Léa Dupont"}) == "Léa Dupont"
    assert fmt_actor("service:accounting", "fr", {}) == "service : accounting"
    assert fmt_actor("moodle", "en", {}) == "system: moodle"
    assert fmt_actor(None, "en", {}) == "—"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stats(database_url: str) -> AsyncIterator[DashboardStats]:
    schema = f"t_fmt_{unique('s').split('-')[1]}"
    await migrate(database_url, schema, SERVICE.migrations)
    pool: asyncpg.Pool = await db.create_pool(database_url, schema, max_size=2)
    try:
        async with pool.acquire() as conn:
            await build(conn)
            yield await load_dashboard(conn, today=TODAY)
    finally:
        await pool.close()
        await pool_drop(database_url, schema)


async def pool_drop(database_url: str, schema: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def dashboard(stats: DashboardStats, lang: str) -> str:
    """The dashboard page as the pages render it, for the hand-built register."""
    app = FastAPI()
    app.state.settings = Settings()
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/pages/dpo",
        "query_string": f"lang={lang}".encode(),
        "headers": [],
        "app": app,
    }
    page = render(
        Request(scope),
        "dpo/dashboard.html",
        stats=stats,
        volume_svg=volume_chart(stats, lang=lang),
        status_svg=status_chart(stats, lang=lang),
    )
    return bytes(page.body).decode()


async def test_dashboard_decimals_and_percentages_in_each_language(
    stats: DashboardStats,
) -> None:
    assert stats.median_days_to_close is not None
    assert stats.on_time_rate is not None
    french, english = text_of(dashboard(stats, "fr")), text_of(dashboard(stats, "en"))
    median = stats.median_days_to_close
    assert f"{median:.1f}".replace(".", ",") + " jours (médiane)" in french
    assert f"{median:.1f} days (median)" in english
    assert f"{stats.on_time_rate * 100:.0f}\xa0% répondues dans les délais" in french
    assert f"{stats.on_time_rate * 100:.0f}% answered on time" in english
    # The page's own figures (the charts' axes are pygal's).
    figures = text_of(re.sub(r"<figure\b.*?</figure>", " ", dashboard(stats, "fr"), flags=re.S))
    assert re.search(r"\d\.\d", figures) is None, re.findall(r".{30}\d\.\d.{10}", figures)
    assert "Volume : " in french
    assert "Volume: " in english


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_chart_and_table_name_each_status_alike(stats: DashboardStats, lang: str) -> None:
    page = dashboard(stats, lang)
    table = re.findall(
        r'<th scope="row"><a href="/pages/dpo/queue\?status=([a-z_]+)">([^<]+)</a>', page
    )
    chart = page.split('<figure class="chart">')[1].split("</figure>")[0]
    assert {s for s, _ in table} == {"received", "identity_pending", "in_progress"}
    for status, name in table:
        assert html.unescape(name) == i18n.label(i18n.STATUSES, status, lang)
        assert f">{html.unescape(name)}<" in html.unescape(chart), (status, name)
