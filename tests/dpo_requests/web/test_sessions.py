"""The pages' sessions are server-side: a copied session cookie stops working once the session
ends — logout from the pages, the end of the SSO session it came from (logout, back-channel
logout, suspension: ``vigie.sso.session.revoked`` on the real broker), the person's erasure,
the idle timeout and the absolute lifetime."""

from __future__ import annotations

import httpx
import pytest

from dpo_requests.web.session import SESSION_COOKIE
from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser, csrf_of
from tests.fixtures.serving import eventually
from vigie_shared.events import SERVICE_SOURCES, SessionRevoked, UserErased, new_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.kafka import Producer

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

MINE = "/pages/requests"


async def with_cookie(dpo: Dpo, cookie: str) -> httpx.Response:
    """What a second browser holding a copy of the cookie gets."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dpo.app),
        base_url="http://dpo.test",
        cookies={SESSION_COOKIE: cookie},
    ) as thief:
        return await thief.get(MINE)


def sent_to_login(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/pages/login")


async def publish(dpo: Dpo, data: SessionRevoked | UserErased, subject: str) -> None:
    producer = Producer(dpo.settings.kafka_bootstrap, client_id="sessions-test")
    await producer.start()
    try:
        event = new_event(data, subject=subject, source=SERVICE_SOURCES["sso_gateway"])
        await producer.send_and_wait(encode(event))
    finally:
        await producer.stop()


async def test_a_copied_cookie_is_refused_after_logout_from_the_pages(dpo: Dpo) -> None:
    learner = unique("learner")
    async with browser(dpo, learner, "learner") as b:
        cookie = b.cookies[SESSION_COOKIE]
        assert (await with_cookie(dpo, cookie)).status_code == 200
        token = await csrf_of(b, MINE)
        out = await b.post("/pages/logout", data={"csrf": token})
    assert out.status_code == 303
    assert sent_to_login(await with_cookie(dpo, cookie))


async def test_the_end_of_the_sso_session_ends_the_pages_sessions_from_it(dpo: Dpo) -> None:
    learner, sid, other_sid = unique("learner"), unique("sid"), unique("sid")
    async with (
        browser(dpo, learner, "learner", sid=sid) as ended,
        browser(dpo, learner, "learner", sid=other_sid) as kept,
    ):
        cookie, other = ended.cookies[SESSION_COOKIE], kept.cookies[SESSION_COOKIE]
    assert (await with_cookie(dpo, cookie)).status_code == 200
    await publish(dpo, SessionRevoked(user_id=learner, session_id=sid, reason="logout"), learner)
    answer = await eventually(lambda: with_cookie(dpo, cookie), until=sent_to_login, timeout=30)
    assert sent_to_login(answer)
    assert (await with_cookie(dpo, other)).status_code == 200


async def test_an_erased_person_has_no_pages_session_left(dpo: Dpo) -> None:
    learner = unique("learner")
    async with browser(dpo, learner, "learner", sid=unique("sid")) as b:
        cookie = b.cookies[SESSION_COOKIE]
    await publish(dpo, UserErased(user_id=learner), learner)
    answer = await eventually(lambda: with_cookie(dpo, cookie), until=sent_to_login, timeout=30)
    assert sent_to_login(answer)


async def test_a_session_unused_past_the_idle_timeout_ends(dpo: Dpo) -> None:
    learner = unique("learner")
    async with browser(dpo, learner, "learner") as b:
        cookie = b.cookies[SESSION_COOKIE]
    idle = dpo.settings.session_idle_minutes
    await dpo.pool.execute(
        "UPDATE web_sessions SET last_seen_at = now() - make_interval(mins => $2)"
        " WHERE subject = $1",
        learner,
        idle - 1,
    )
    assert (await with_cookie(dpo, cookie)).status_code == 200, "used within the timeout"
    await dpo.pool.execute(
        "UPDATE web_sessions SET last_seen_at = now() - make_interval(mins => $2)"
        " WHERE subject = $1",
        learner,
        idle + 1,
    )
    assert sent_to_login(await with_cookie(dpo, cookie))


async def test_a_session_in_use_still_ends_at_its_absolute_lifetime(dpo: Dpo) -> None:
    learner = unique("learner")
    async with browser(dpo, learner, "learner") as b:
        cookie = b.cookies[SESSION_COOKIE]
    await dpo.pool.execute(
        "UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE subject = $1",
        learner,
    )
    assert sent_to_login(await with_cookie(dpo, cookie))


async def test_the_cookie_carries_no_identity_and_the_store_no_token(dpo: Dpo) -> None:
    learner = unique("learner")
    async with browser(dpo, learner, "learner") as b:
        cookie = b.cookies[SESSION_COOKIE]
    stored = await dpo.pool.fetch("SELECT token_hash FROM web_sessions WHERE subject = $1", learner)
    assert learner not in cookie
    assert [r["token_hash"] for r in stored] != [cookie]
    assert len(stored) == 1
    assert sent_to_login(await with_cookie(dpo, cookie[:-2] + "xx"))
