"""An erasure request (GDPR Art. 17) closes the learner's account: the pages file it only from
a confirmation page saying what will happen. Over HTTP: the first form alone, a made-up token,
another session's token or a token for another message file nothing."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser, csrf_of

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')


async def filed(dpo: Dpo, learner: str) -> int:
    count: int = await dpo.pool.fetchval(
        "SELECT count(*) FROM requests WHERE subject_id = $1", learner
    )
    return count


async def first_form(b: httpx.AsyncClient, message: str = "") -> httpx.Response:
    token = await csrf_of(b, "/pages/requests/new")
    return await b.post(
        "/pages/requests", data={"csrf": token, "request_type": "erasure", "message": message}
    )


def confirmation_of(page: httpx.Response) -> str:
    found = CONFIRMATION.search(page.text)
    assert found, page.text
    return found.group(1)


async def test_posting_the_erasure_form_shows_what_will_happen_and_files_nothing(
    dpo: Dpo,
) -> None:
    learner = unique("erase")
    async with browser(dpo, learner, "learner") as b:
        page = await first_form(b, "Effacez tout")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Confirmer la demande d'effacement" in text
    assert "Votre compte sera fermé" in text
    assert "ne pourrez plus vous connecter" in text
    assert "loi oblige" in text
    assert "Effacez tout" in text
    assert ">Confirmer</button>" in text
    assert 'href="/pages/requests">Annuler</a>' in text
    assert await filed(dpo, learner) == 0


async def test_a_confirmed_erasure_is_filed_once(dpo: Dpo) -> None:
    learner = unique("erase")
    async with browser(dpo, learner, "learner") as b:
        page = await first_form(b, "Effacez tout")
        token = await csrf_of(b, "/pages/requests/new")
        confirmed = await b.post(
            "/pages/requests",
            data={
                "csrf": token,
                "request_type": "erasure",
                "message": "Effacez tout",
                "confirmation": confirmation_of(page),
            },
        )
    assert confirmed.status_code == 303, confirmed.text
    assert await filed(dpo, learner) == 1
    row = await dpo.pool.fetchrow(
        "SELECT request_type, message FROM requests WHERE subject_id = $1", learner
    )
    assert row is not None
    assert (row["request_type"], row["message"]) == ("erasure", "Effacez tout")


@pytest.mark.parametrize("forged", ["yes", "", "x" * 80])
async def test_a_made_up_confirmation_files_nothing(dpo: Dpo, forged: str) -> None:
    learner = unique("erase")
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        page = await b.post(
            "/pages/requests",
            data={"csrf": token, "request_type": "erasure", "confirmation": forged},
        )
    assert page.status_code == 200
    assert "Confirmer la demande d'effacement" in html.unescape(page.text)
    assert await filed(dpo, learner) == 0


async def test_a_confirmation_is_bound_to_its_session_and_its_message(dpo: Dpo) -> None:
    learner = unique("erase")
    async with browser(dpo, learner, "learner") as b:
        page = await first_form(b, "Effacez mes notes")
        confirmation = confirmation_of(page)
        token = await csrf_of(b, "/pages/requests/new")
        other_message = await b.post(
            "/pages/requests",
            data={
                "csrf": token,
                "request_type": "erasure",
                "message": "Autre chose",
                "confirmation": confirmation,
            },
        )
    # The same learner in another session (another browser) cannot reuse it.
    async with browser(dpo, learner, "learner") as other:
        token = await csrf_of(other, "/pages/requests/new")
        other_session = await other.post(
            "/pages/requests",
            data={
                "csrf": token,
                "request_type": "erasure",
                "message": "Effacez mes notes",
                "confirmation": confirmation,
            },
        )
    assert other_message.status_code == 200
    assert other_session.status_code == 200
    assert await filed(dpo, learner) == 0


async def test_other_requests_need_no_confirmation_page(dpo: Dpo) -> None:
    learner = unique("access")
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        sent = await b.post("/pages/requests", data={"csrf": token, "request_type": "access"})
    assert sent.status_code == 303
    assert await filed(dpo, learner) == 1


async def test_the_confirmation_page_is_in_english_when_asked(dpo: Dpo) -> None:
    learner = unique("erase")
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        page = await b.post(
            "/pages/requests?lang=en", data={"csrf": token, "request_type": "erasure"}
        )
    assert page.status_code == 200
    assert "Confirm the erasure request" in page.text
    assert "Your account will be closed:" in page.text
    assert ">Cancel</a>" in page.text
    assert await filed(dpo, learner) == 0
