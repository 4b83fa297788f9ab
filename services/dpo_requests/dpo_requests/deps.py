"""FastAPI dependencies shared by the features' endpoints (full-stack template style aliases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from dpo_requests.config import Settings
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import Principal, app_verifier, bearer

LEARNER = "learner"
DPO = "dpo"


# A coroutine, though it does not wait: FastAPI runs a plain function dependency in a worker
# thread (``run_in_threadpool``), a thread hop on every request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_conn(request: Request) -> AsyncIterator[Conn]:
    async with request.app.state.runtime.pool.acquire() as conn:
        yield conn


DbConn = Annotated[Conn, Depends(get_conn)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Learner = Annotated[Principal, Depends(bearer(app_verifier, LEARNER))]
DpoOfficer = Annotated[Principal, Depends(bearer(app_verifier, DPO))]
Caller = Annotated[Principal, Depends(bearer(app_verifier, LEARNER, DPO))]


def is_dpo(principal: Principal) -> bool:
    return DPO in principal.roles


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, "Not Found", f"No {what} {ident}.")
