"""The register of requests: deadline columns as the lifecycle computed them, CSV that parses
back, filters, DPO only."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.config import Settings
from dpo_requests.deadlines import paris_date
from dpo_requests.register.endpoints import router
from dpo_requests.register.export import COLUMNS, RegisterPublic, register_export
from dpo_requests.requests.repository import request_repository
from dpo_requests.requests.schemas import (
    ClosingCreate,
    ExtensionCreate,
    IdentityInfoAsked,
    RefusalCreate,
    RequestCreate,
    VerificationCreate,
)
from dpo_requests.requests.service import rights_request
from dpo_requests.service import SERVICE
from tests.dpo_requests.dashboard.fixtures import client, own_app
from tests.fixtures.issuer import FakeIssuer
from vigie_shared.events import Actor, RequestType
from vigie_shared.kit import db
from vigie_shared.kit.db import Conn
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")
DPO = Actor(kind="user", id="dpo-1")
INJECTED = '=HYPERLINK("http://evil.example")'


@dataclass
class Register:
    pool: asyncpg.Pool
    ids: dict[str, str]


async def registered(conn: Conn, key: str, request_type: RequestType, received_at: datetime) -> str:
    request = await rights_request.register(
        conn,
        RequestCreate(
            request_type=request_type,
            requester=f"{key}@example.org",
            subject_id=f"learner-{key}",
            channel="email",
            received_at=received_at,
        ),
    )
    return request.id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def register(database_url: str, module_schema: str) -> AsyncIterator[Register]:
    """Requests taken through the real lifecycle (the service stamps transitions now)."""
    await migrate(database_url, module_schema, SERVICE.migrations)
    pool = await db.create_pool(database_url, module_schema, max_size=2)
    settings = Settings(database_url=database_url, env="development")
    now = datetime.now(UTC)
    ids: dict[str, str] = {}
    async with pool.acquire() as conn:
        # Received 31/01/2026: one month ends on 28/02 (no 31st), a Saturday -> Monday 02/03.
        ids["late"] = await registered(
            conn, "late", RequestType.ACCESS, datetime(2026, 1, 31, 10, tzinfo=UTC)
        )
        ids["waiting"] = await registered(
            conn, "waiting", RequestType.ERASURE, now - timedelta(days=10)
        )
        await rights_request.ask_identity(
            conn, ids["waiting"], IdentityInfoAsked(what="Pièce d'identité"), DPO
        )
        ids["done"] = await registered(conn, "done", RequestType.ACCESS, now - timedelta(days=5))
        await rights_request.extend(conn, ids["done"], ExtensionCreate(reason=INJECTED), DPO)
        await rights_request.verify(
            conn, ids["done"], VerificationCreate(method="document"), DPO, settings
        )
        await rights_request.close(conn, ids["done"], ClosingCreate(note=None), DPO, settings)
        # Clock stopped 05/05 -> 15/05 (10 days): 04/06 + 10 = Sunday 14/06 -> Monday 15/06.
        ids["refused"] = await registered(
            conn, "refused", RequestType.OBJECTION, datetime(2026, 5, 4, 8, tzinfo=UTC)
        )
        await request_repository.open_suspension(
            conn,
            ids["refused"],
            asked_at=datetime(2026, 5, 5, 8, tzinfo=UTC),
            what="Justificatif",
        )
        await request_repository.close_suspension(
            conn, ids["refused"], answered_at=datetime(2026, 5, 15, 8, tzinfo=UTC)
        )
        await rights_request.refuse(
            conn,
            ids["refused"],
            RefusalCreate(ground="other", reason="Aucune donnée de ce type"),
            DPO,
        )
    yield Register(pool, ids)
    await pool.close()


async def test_deadline_columns_are_the_lifecycle_s_own(register: Register) -> None:
    today = paris_date(datetime.now(UTC))
    async with register.pool.acquire() as conn:
        rows = {row.id: row for row in await register_export.rows(conn, today=today)}
        for request_id, row in rows.items():
            stored = await request_repository.get(conn, request_id)
            assert stored is not None
            deadline = await rights_request.deadline(conn, stored)
            assert row.due_on == deadline.due_on
            assert row.due_rule == deadline.explanation_fr
            if stored.status in ("received", "identity_pending", "in_progress"):
                assert row.due_on == stored.due_on
    late = rows[register.ids["late"]]
    assert (late.received_on, late.due_on, late.status) == (
        date(2026, 1, 31),
        date(2026, 3, 2),
        "received",
    )
    assert "art. 3(4)" in late.due_rule
    assert late.on_time is False
    waiting = rows[register.ids["waiting"]]
    assert waiting.clock_stopped
    assert waiting.due_on is None
    assert waiting.identity_requested_on == today
    assert waiting.on_time is None
    done = rows[register.ids["done"]]
    assert done.extended
    assert done.extended_on == today
    assert done.verified_on == today
    assert done.status == "completed"
    assert done.closed_on == today
    assert done.on_time is True
    refused = rows[register.ids["refused"]]
    assert refused.suspended_days == 10
    assert refused.identity_received_on == date(2026, 5, 15)
    assert refused.due_on == date(2026, 6, 15)
    assert refused.on_time is False


async def test_csv_parses_back_with_the_columns_and_the_deadlines(register: Register) -> None:
    issuer = FakeIssuer()
    async with client(own_app(register.pool, issuer, router)) as http:
        dpo = issuer.headers("dpo-1", "dpo")
        response = await http.get("/register.csv", headers=dpo)
        as_json = RegisterPublic.model_validate((await http.get("/register", headers=dpo)).json())
        comma = await http.get("/register.csv", params={"separator": "comma"}, headers=dpo)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    text = response.content.decode("utf-8-sig")
    assert "\r\n" in text
    assert text.splitlines()[0].count(";") == len(COLUMNS) - 1
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert tuple(rows[0]) == COLUMNS
    assert [r["id"] for r in rows] == [item.id for item in as_json.items]
    assert as_json.count == len(rows) == 4
    for row, item in zip(rows, as_json.items, strict=True):
        assert row["due_on"] == (item.due_on.isoformat() if item.due_on else "")
        assert row["received_on"] == item.received_on.isoformat()
        assert row["on_time"] == {True: "true", False: "false", None: ""}[item.on_time]
        assert row["due_rule"] == item.due_rule  # accents and "; " survive the round trip
    assert {r["request_type"] for r in rows} == {"access", "erasure", "objection"}
    done = next(r for r in rows if r["id"] == register.ids["done"])
    assert done["extension_reason"] == "'" + INJECTED  # never a live formula in a spreadsheet
    by_comma = list(csv.DictReader(io.StringIO(comma.content.decode("utf-8-sig"), newline="")))
    assert [r["due_on"] for r in by_comma] == [r["due_on"] for r in rows]


async def test_filters_by_receipt_dates_status_and_type(register: Register) -> None:
    issuer = FakeIssuer()
    async with client(own_app(register.pool, issuer, router)) as http:
        dpo = issuer.headers("dpo-1", "dpo")

        async def ids(**params: str) -> set[str]:
            response = await http.get("/register", params=params, headers=dpo)
            assert response.status_code == 200, response.text
            return {item["id"] for item in response.json()["items"]}

        assert await ids(received_from="2026-01-31", received_to="2026-05-04") == {
            register.ids["late"],
            register.ids["refused"],
        }
        assert await ids(received_to="2026-01-30") == set()
        assert await ids(status="refused") == {register.ids["refused"]}
        assert await ids(type="access") == {register.ids["late"], register.ids["done"]}
        english = await http.get("/register", params={"lang": "en"}, headers=dpo)
        assert "Regulation 1182/71" in english.json()["items"][0]["due_rule"]
        backwards = await http.get(
            "/register",
            params={"received_from": "2026-02-01", "received_to": "2026-01-01"},
            headers=dpo,
        )
        assert backwards.status_code == 422
        unknown = await http.get("/register", params={"status": "lost"}, headers=dpo)
        assert unknown.status_code == 422


async def test_the_register_is_for_the_dpo_only(register: Register) -> None:
    issuer = FakeIssuer()
    async with client(own_app(register.pool, issuer, router)) as http:
        for path in ("/register", "/register.csv"):
            assert (await http.get(path)).status_code == 401
            learner = issuer.headers("learner-late", "learner")
            assert (await http.get(path, headers=learner)).status_code == 403
