"""A hand-built register whose every dashboard figure is worked out by hand below.

Today is Monday 16 March 2026 (Paris). Times are UTC; the ones near midnight check that
figures use Paris dates (23:30 UTC is already the next day in Paris).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
from fastapi import APIRouter, FastAPI

from dpo_requests.requests.repository import request_repository
from dpo_requests.tasks.repository import task_repository
from tests.fixtures.issuer import FakeIssuer
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import install_problem_handlers

TODAY = date(2026, 3, 16)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Req:
    key: str
    request_type: str
    received_at: datetime
    status: str
    due_on: date | None
    closed_at: datetime | None = None
    extended_on: date | None = None


EXTENDED = date(2026, 1, 20)
LATE_CLOSE = utc(2025, 12, 3, 23, 30)  # 4 December in Paris
REQUESTS = (
    # Open: A, B overdue; C, D due soon (D today); E clock stopped; F extended; G in 8 days.
    Req("A", "access", utc(2026, 1, 10, 9), "received", date(2026, 2, 10)),
    Req("B", "erasure", utc(2026, 2, 1, 9), "in_progress", date(2026, 3, 2)),
    Req("C", "access", utc(2026, 2, 20, 9), "in_progress", date(2026, 3, 20)),
    Req("D", "rectification", utc(2026, 2, 16, 9), "received", date(2026, 3, 16)),
    Req("E", "objection", utc(2026, 3, 10, 9), "identity_pending", None),
    Req(
        "F", "access", utc(2026, 1, 5, 9), "in_progress", date(2026, 4, 7), None, date(2026, 1, 20)
    ),
    Req("G", "erasure", utc(2026, 3, 1, 9), "received", date(2026, 3, 24)),
    # Answered within the last twelve months: 10, 20, 30, 31 (late, Paris date) and 5 days.
    Req("H", "access", utc(2025, 6, 2, 9), "completed", date(2025, 7, 2), utc(2025, 6, 12, 9)),
    Req("I", "access", utc(2025, 9, 1, 9), "completed", date(2025, 10, 1), utc(2025, 9, 21, 9)),
    Req("J", "erasure", utc(2025, 10, 1, 9), "refused", date(2025, 11, 3), utc(2025, 10, 31, 9)),
    Req(
        "K", "access", utc(2025, 11, 3, 9), "completed", date(2025, 12, 3), utc(2025, 12, 3, 23, 30)
    ),
    # Refused while its clock was stopped: on time.
    Req("L", "objection", utc(2025, 12, 1, 9), "refused", None, utc(2025, 12, 6, 9)),
    # Closed before the window; received in 2024: counted nowhere but in the status gauge.
    Req("N", "access", utc(2024, 12, 1, 9), "completed", date(2025, 1, 2), utc(2025, 1, 15, 9)),
    # Withdrawn: never in the closing times. O is 1 January 2026 in Paris.
    Req("O", "access", utc(2025, 12, 31, 23, 30), "withdrawn", None, utc(2026, 1, 2, 9)),
    # 16 March 2025 in Paris (23:30), and 17 March 2025 in Paris (00:30).
    Req("P", "erasure", utc(2025, 3, 16, 22, 30), "withdrawn", None, utc(2025, 3, 20, 9)),
    Req("Q", "erasure", utc(2025, 3, 16, 23, 30), "withdrawn", None, utc(2025, 3, 20, 9)),
)

# (request, system, action, status, manual, requested_at)
TASKS = (
    ("B", "moodle", "erase", "pending", False, utc(2026, 2, 2, 9)),
    ("B", "archives", "erase", "pending", True, utc(2026, 2, 2, 9)),
    ("B", "audit", "erase", "completed", False, utc(2026, 2, 2, 9)),
    ("C", "moodle", "export", "pending", False, utc(2026, 3, 12, 23, 30)),  # 13/03 in Paris
    ("C", "sso", "export", "timed_out", False, utc(2026, 3, 12, 22)),  # 12/03 23:00 in Paris
    ("F", "moodle", "export", "timed_out", False, utc(2026, 1, 21, 9)),
    ("K", "moodle", "export", "pending", False, utc(2025, 11, 5, 9)),  # request closed
)


async def build(conn: Conn) -> dict[str, str]:
    """Insert the register; returns the request id of each key."""
    ids: dict[str, str] = {}
    for req in REQUESTS:
        request_id = f"r-{req.key}-{uuid.uuid4().hex[:6]}"
        ids[req.key] = request_id
        await request_repository.insert(
            conn,
            request_id=request_id,
            request_type=req.request_type,
            requester=f"{req.key.lower()}@example.org",
            subject_id=f"learner-{req.key}",
            message=None,
            channel="online",
            received_at=req.received_at,
            due_on=req.due_on,
        )
        fields: dict[str, Any] = {"status": req.status, "due_on": req.due_on}
        if req.closed_at is not None:
            fields["closed_at"] = req.closed_at
        if req.extended_on is not None:
            fields.update(extended_on=req.extended_on, extension_reason="Volume de données")
        await request_repository.update(conn, request_id, **fields)
    for key, system, action, status, manual, requested_at in TASKS:
        task_id = f"t-{uuid.uuid4().hex[:10]}"
        await task_repository.insert(
            conn,
            task_id=task_id,
            request_id=ids[key],
            system=system,
            action=action,
            manual=manual,
            requested_at=requested_at,
            due_at=None,
        )
        if status != "pending":
            await task_repository.update(conn, task_id, status=status)
    return ids


def own_app(pool: asyncpg.Pool, issuer: FakeIssuer, *routers: APIRouter) -> FastAPI:
    """The routers on an app of their own (``app.py`` includes them in the service), with the
    state the shared dependencies read: the pool and the token verifier."""
    app = FastAPI()
    install_problem_handlers(app)
    app.state.runtime = SimpleNamespace(pool=pool)
    app.state.token_verifier = issuer.verifier()
    for router in routers:
        app.include_router(router)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dpo.test")
