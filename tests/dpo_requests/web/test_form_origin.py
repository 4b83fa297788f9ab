"""A form of the pages posted from another site's page is refused, even with a valid CSRF
token (its Origin header names the other site)."""

from __future__ import annotations

import pytest

from tests.dpo_requests.support import Dpo
from tests.dpo_requests.web.support import browser, csrf_of

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]


async def test_a_pages_form_posted_from_another_site_is_refused(dpo: Dpo) -> None:
    async with browser(dpo, "learner-origin", "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        data = {"csrf": token, "request_type": "access"}
        forged = await b.post("/pages/requests", data=data, headers={"origin": "https://evil.test"})
        ours = await b.post("/pages/requests", data=data, headers={"origin": "http://dpo.test"})
        mine = await b.get("/pages/requests")
    assert forged.status_code == 403
    assert ours.status_code == 303
    assert mine.text.count("/pages/requests/r-") == 1
