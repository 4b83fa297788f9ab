"""The request pages write the deadline's dates once, as the reader's language does (CLDR
through the kit, as every other date on the pages), while the JSON API keeps dd/mm/yyyy."""

from __future__ import annotations

import re

import pytest

from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser
from tests.dpo_requests.web.test_formatting import new_request, text_of
from vigie_shared.kit.i18n import format_date

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]
WRITTEN_DATE = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")


def explained(page: str) -> str:
    return text_of(page.split("<details>")[1].split("</details>")[0])


async def test_learner_and_dpo_pages_explain_the_deadline_in_the_readers_dates(dpo: Dpo) -> None:
    learner = unique("u")
    request_id = await new_request(dpo, learner)
    due = await dpo.pool.fetchval("SELECT due_on FROM requests WHERE id = $1", request_id)
    async with browser(dpo, learner, "learner") as b:
        learner_en = explained((await b.get(f"/pages/requests/{request_id}?lang=en")).text)
        learner_fr = explained((await b.get(f"/pages/requests/{request_id}?lang=fr")).text)
    async with browser(dpo, unique("dpo"), "dpo") as b:
        dpo_en = explained((await b.get(f"/pages/dpo/requests/{request_id}?lang=en")).text)
        dpo_fr = explained((await b.get(f"/pages/dpo/requests/{request_id}?lang=fr")).text)
    for english in (learner_en, dpo_en):
        assert f"→ {format_date(due, 'en')}" in english
        assert WRITTEN_DATE.search(english) is None, english
    for french in (learner_fr, dpo_fr):
        assert f"→ {format_date(due, 'fr')}" in french
        assert "Réception le" in french
    api = await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner(learner))
    assert f"→ {due:%d/%m/%Y}" in api.json()["deadline"]["explanation_en"]
