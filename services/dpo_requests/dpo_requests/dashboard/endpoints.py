"""The DPO dashboard's figures as JSON (the HTML page renders the same model)."""

from __future__ import annotations

from fastapi import APIRouter

from dpo_requests.dashboard.stats import DashboardStats, load_dashboard
from dpo_requests.deadlines import paris_date
from dpo_requests.deps import DbConn, DpoOfficer
from vigie_shared.kit.clock import utcnow

router = APIRouter(tags=["dashboard"])


@router.get(
    "/dashboard",
    summary="Open work, deadlines, closing times and volume at a glance (DPO)",
    responses={401: {"description": "No valid token"}, 403: {"description": "Not the DPO"}},
)
async def get_dashboard(conn: DbConn, dpo: DpoOfficer) -> DashboardStats:
    return await load_dashboard(conn, today=paris_date(utcnow()))
