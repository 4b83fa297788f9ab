"""The register's CSV streamed batch by batch: the same file as the csv module writes from the
register's rows, deadlines as the lifecycle computes them (receipts near midnight included),
and never more than a batch read ahead of what was sent."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.deadlines import DeadlineError
from dpo_requests.register.endpoints import router
from dpo_requests.register.export import (
    COLUMNS,
    RegisterExport,
    RegisterRow,
    Separator,
    register_export,
    to_csv,
)
from dpo_requests.register.repository import (
    RegisteredRequest,
    RegisterRepository,
    register_repository,
)
from dpo_requests.requests.repository import request_repository
from dpo_requests.requests.service import rights_request
from dpo_requests.service import SERVICE
from tests.dpo_requests.dashboard.fixtures import client, own_app
from tests.fixtures.issuer import FakeIssuer
from vigie_shared.kit import db
from vigie_shared.kit.db import Conn
from vigie_shared.kit.migrate import migrate

pytestmark = pytest.mark.asyncio(loop_scope="session")
TODAY = date(2026, 12, 7)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def insert(conn: Conn, request_id: str, received_at: datetime, channel: str = "email") -> str:
    await request_repository.insert(
        conn,
        request_id=request_id,
        request_type="erasure",
        requester=f"{request_id}@example.org",
        subject_id=None,
        message=None,
        channel=channel,
        received_at=received_at,
        due_on=date(2026, 2, 16),
    )
    return request_id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str, module_schema: str) -> AsyncIterator[asyncpg.Pool]:
    """Requests whose every column takes its awkward values: receipts whose UTC date is the
    day before their Paris date, waits closed and open, an extension, dates the rules refuse,
    text that needs quotes or reads as a formula."""
    await migrate(database_url, module_schema, SERVICE.migrations)
    pool = await db.create_pool(database_url, module_schema, max_size=2)
    async with pool.acquire() as conn:
        # 23:30 UTC in winter, 22:30 UTC in summer: the next day in Paris.
        winter = await insert(conn, "r-winter", utc(2026, 1, 14, 23, 30))
        await request_repository.update(
            conn, winter, extended_on=date(2026, 1, 20), extension_reason='Volume; "lourd"\r\n'
        )
        summer = await insert(conn, "=r-summer", utc(2026, 7, 3, 22, 30), channel="post;x")
        await request_repository.open_suspension(
            conn, summer, asked_at=utc(2026, 7, 4, 22, 30), what="Pièce"
        )
        await request_repository.close_suspension(conn, summer, answered_at=utc(2026, 7, 9, 8))
        waiting = await insert(conn, "r-waiting", utc(2026, 11, 30, 23, 5))
        await request_repository.open_suspension(
            conn, waiting, asked_at=utc(2026, 12, 1, 9), what="Pièce"
        )
        closed = await insert(conn, "r-closed", utc(2026, 3, 2, 9))
        await request_repository.update(
            conn,
            closed,
            status="completed",
            verified_at=utc(2026, 3, 2, 23, 15),
            closed_at=utc(2026, 3, 31, 22, 45),
            extension_reason="@SUM(A1)",
        )
        # Asked for identity before the request was received: the rules refuse it.
        refused = await insert(conn, "r-refused", utc(2026, 5, 10, 9))
        await request_repository.open_suspension(
            conn, refused, asked_at=utc(2026, 5, 1, 9), what="Pièce"
        )
        await request_repository.close_suspension(conn, refused, answered_at=utc(2026, 5, 3, 9))
        for day in range(1, 8):
            await insert(conn, f"r-plain-{day}", utc(2026, 10, day, 12))
        # Each of what makes a field quoted, alone.
        for request_id, reason in (("r-plain-1", 'dit "urgent"'), ("r-plain-2", "a, b")):
            await request_repository.update(conn, request_id, extension_reason=reason)
        await request_repository.update(conn, "r-plain-3", extension_reason="ligne\nsuivante")
        await request_repository.update(conn, "r-plain-4", extension_reason="retour\rchariot")
    yield pool
    await pool.close()


def old_cell(value: object) -> str:
    """A cell as the register wrote them with the csv module, before it streamed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def written_by_the_csv_module(rows: list[RegisterRow], separator: Separator) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([old_cell(getattr(row, column)) for column in COLUMNS])
    return buffer.getvalue().encode("utf-8")


async def streamed(
    export: RegisterExport,
    conn: Conn,
    *,
    lang: str = "fr",
    separator: Separator = ";",
    status: str | None = None,
) -> list[bytes]:
    chunks = export.csv(conn, today=TODAY, lang=lang, separator=separator, status=status)
    return [chunk async for chunk in chunks]


@pytest.mark.parametrize(("lang", "separator"), [("fr", ";"), ("en", ","), ("en", ";")])
async def test_the_streamed_file_is_the_one_the_csv_module_writes_of_the_rows(
    pool: asyncpg.Pool, lang: str, separator: Separator
) -> None:
    export = RegisterExport(register_repository, batch_size=3)
    async with pool.acquire() as conn:
        rows = await export.rows(conn, today=TODAY, lang=lang)
        chunks = await streamed(export, conn, lang=lang, separator=separator)
    assert len(rows) == 12
    assert len(chunks) == 4  # one per batch of 3, the header with the first
    expected = written_by_the_csv_module(rows, separator)
    assert b"".join(chunks) == expected
    assert to_csv(rows, separator=separator) == expected
    lines = list(
        csv.reader(io.StringIO(expected.decode("utf-8-sig"), newline=""), delimiter=separator)
    )
    by_id = {line[0]: dict(zip(COLUMNS, line, strict=True)) for line in lines[1:]}
    assert by_id["'=r-summer"]["channel"] == "post;x"
    assert by_id["r-winter"]["extension_reason"] == 'Volume; "lourd"\r\n'
    assert by_id["r-closed"]["extension_reason"] == "'@SUM(A1)"


async def test_receipts_near_midnight_keep_the_lifecycle_s_deadline_and_wording(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        rows = {row.id: row for row in await register_export.rows(conn, today=TODAY)}
        english = {row.id: row for row in await register_export.rows(conn, today=TODAY, lang="en")}
        for request_id, row in rows.items():
            stored = await request_repository.get(conn, request_id)
            assert stored is not None
            if request_id == "r-refused":
                with pytest.raises(DeadlineError) as refusal:
                    await rights_request.deadline(conn, stored)
                assert row.due_rule == f"date enregistrée, non recalculable : {refusal.value}"
                assert row.due_on == stored.due_on
                continue
            deadline = await rights_request.deadline(conn, stored)
            assert (row.due_on, row.due_rule) == (deadline.due_on, deadline.explanation_fr)
            assert english[request_id].due_rule == deadline.explanation_en
    winter = rows["r-winter"]
    assert winter.received_on == date(2026, 1, 15)
    assert winter.due_rule.startswith("Réception le 14/01/2026 à 23:30 UTC, soit le 15/01/2026")
    assert winter.extended
    summer = rows["=r-summer"]
    assert (summer.received_on, summer.identity_requested_on) == (
        date(2026, 7, 4),
        date(2026, 7, 5),
    )
    assert (summer.identity_received_on, summer.suspended_days) == (date(2026, 7, 9), 4)
    waiting = rows["r-waiting"]
    assert (waiting.clock_stopped, waiting.due_on, waiting.identity_received_on) == (
        True,
        None,
        None,
    )
    closed = rows["r-closed"]
    assert (closed.verified_on, closed.closed_on, closed.on_time) == (
        date(2026, 3, 3),
        date(2026, 4, 1),
        True,
    )


class CountingRepository(RegisterRepository):
    """The register's repository, counting the batches it has read."""

    def __init__(self) -> None:
        self.read = 0

    async def batches(
        self,
        conn: Conn,
        *,
        received_from: date | None,
        received_to: date | None,
        status: str | None,
        request_type: str | None,
        size: int = 1,
    ) -> AsyncGenerator[list[RegisteredRequest], None]:
        async for batch in super().batches(
            conn,
            received_from=received_from,
            received_to=received_to,
            status=status,
            request_type=request_type,
            size=size,
        ):
            self.read += 1
            yield batch


async def test_the_export_reads_one_batch_ahead_of_what_it_sends_at_most(
    pool: asyncpg.Pool,
) -> None:
    repository = CountingRepository()
    export = RegisterExport(repository, batch_size=2)
    read_when_sent = []
    async with pool.acquire() as conn:
        async for _ in export.csv(conn, today=TODAY):
            read_when_sent.append(repository.read)
        sizes = [
            len(batch)
            async for batch in register_repository.batches(
                conn, received_from=None, received_to=None, status=None, request_type=None, size=5
            )
        ]
    assert read_when_sent == [1, 2, 3, 4, 5, 6]
    assert sizes == [5, 5, 2]


async def test_a_stream_left_half_way_ends_its_transaction(pool: asyncpg.Pool) -> None:
    export = RegisterExport(register_repository, batch_size=2)
    async with pool.acquire() as conn:
        chunks = export.csv(conn, today=TODAY)
        await anext(chunks)
        assert conn.is_in_transaction()  # the cursor's
        await chunks.aclose()
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM requests") == 12


async def test_an_empty_register_is_its_header_alone(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        chunks = await streamed(register_export, conn, status="refused")
    assert chunks == ["\ufeff".encode() + ";".join(COLUMNS).encode() + b"\r\n"]


async def test_the_http_export_streams_the_same_file(pool: asyncpg.Pool) -> None:
    issuer = FakeIssuer()
    async with client(own_app(pool, issuer, router)) as http:
        response = await http.get(
            "/register.csv", params={"separator": "comma"}, headers=issuer.headers("dpo-1", "dpo")
        )
    assert response.status_code == 200
    async with pool.acquire() as conn:
        today = date.fromisoformat(
            response.headers["content-disposition"].split("registre-demandes-")[1][:10]
        )
        rows = await register_export.rows(conn, today=today)
    assert response.content == written_by_the_csv_module(rows, ",")
