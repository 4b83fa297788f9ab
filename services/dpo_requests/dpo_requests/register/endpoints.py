"""The register of rights requests, as JSON or as a CSV file (DPO)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from dpo_requests.deadlines import paris_date
from dpo_requests.deps import DbConn, DpoOfficer
from dpo_requests.register.download import csv_download
from dpo_requests.register.export import RegisterPublic, register_export
from vigie_shared.events import RequestType
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.http import Problem

router = APIRouter(tags=["register"])

Status = Literal["received", "identity_pending", "in_progress", "completed", "refused", "withdrawn"]
_ROLES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid token"},
    403: {"description": "Not the DPO"},
}


class RegisterFilters:
    """Query parameters shared by both representations."""

    def __init__(
        self,
        received_from: Annotated[
            date | None, Query(description="First receipt date (Paris), included.")
        ] = None,
        received_to: Annotated[
            date | None, Query(description="Last receipt date (Paris), included.")
        ] = None,
        status: Status | None = None,
        request_type: Annotated[RequestType | None, Query(alias="type")] = None,
        lang: Annotated[Literal["fr", "en"], Query(description="Language of `due_rule`.")] = "fr",
    ) -> None:
        if received_from and received_to and received_from > received_to:
            raise Problem(422, "Invalid date range", "received_from is after received_to.")
        self.received_from = received_from
        self.received_to = received_to
        self.status = status
        self.request_type = request_type
        self.lang = lang


Filters = Annotated[RegisterFilters, Depends()]


@router.get("/register", summary="The register of rights requests (DPO)", responses=_ROLES)
async def get_register(conn: DbConn, dpo: DpoOfficer, filters: Filters) -> RegisterPublic:
    now = utcnow()
    items = await register_export.rows(
        conn,
        today=paris_date(now),
        received_from=filters.received_from,
        received_to=filters.received_to,
        status=filters.status,
        request_type=filters.request_type,
        lang=filters.lang,
    )
    return RegisterPublic(generated_at=now, count=len(items), items=items)


@router.get(
    "/register.csv",
    summary="The register of rights requests as CSV, UTF-8 with BOM (DPO)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **_ROLES},
)
async def get_register_csv(
    request: Request,
    dpo: DpoOfficer,
    filters: Filters,
    separator: Annotated[
        Literal["semicolon", "comma"],
        Query(description="`semicolon` opens in columns in French Excel; `comma` is RFC 4180's."),
    ] = "semicolon",
) -> Response:
    today = paris_date(utcnow())
    return await csv_download(
        request.app.state.runtime.pool,
        today=today,
        received_from=filters.received_from,
        received_to=filters.received_to,
        status=filters.status,
        request_type=filters.request_type,
        lang=filters.lang,
        separator=";" if separator == "semicolon" else ",",
    )
