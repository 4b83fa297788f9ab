"""Every read of the log through the API is itself recorded in the log, by whom and with which
query, before the answer is sent; a refused read records nothing."""

from __future__ import annotations

import pytest

from tests.audit_log.support import Api, LogUnderTest, entry

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_every_read_is_itself_recorded_in_the_log(log: LogUnderTest, api: Api) -> None:
    http, issuer = api
    await log.append(entry(1, subject="u-lea"))
    response = await http.get(
        "/entries", params={"subject": "u-lea"}, headers=issuer.token("u-dpo", ["dpo"])
    )
    assert [e["subject"] for e in response.json()["entries"]] == ["u-lea"]
    reads = await http.get(
        "/entries", params={"type": "vigie.audit.read"}, headers=issuer.token("u-adm", ["admin"])
    )
    recorded = reads.json()["entries"]
    assert [(r["actor"], r["data"]["path"], r["data"]["query"]) for r in recorded] == [
        ("user:u-dpo", "/entries", {"subject": "u-lea"}),
        ("user:u-adm", "/entries", {"type": "vigie.audit.read"}),
    ]
    refused = await http.get("/entries", headers=issuer.token("u-1", ["learner"]))
    assert refused.status_code == 403
    assert await log.pool.fetchval("SELECT count(*) FROM log_entries WHERE subject = 'u-1'") == 0
