"""The pages: thin edges that check who is logged in, call the requests, tasks and dashboard
services, and render. Every form posts without JavaScript and carries a CSRF token; every
change answers with a redirect (POST/redirect/GET), so reloading never repeats an action.

Logging in and out lives in :mod:`.auth_pages`, the learner's pages in :mod:`.learner_pages`,
the DPO's in :mod:`.dpo_pages`; what they share in :mod:`.page_edges`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from dpo_requests.web import auth_pages, dpo_pages, learner_pages

router = APIRouter(prefix="/pages", include_in_schema=False)
router.include_router(auth_pages.router)
router.include_router(learner_pages.router)
router.include_router(dpo_pages.router)

root = APIRouter(include_in_schema=False)


@root.get("/")
async def to_pages() -> RedirectResponse:
    return RedirectResponse("/pages/", status_code=307)
