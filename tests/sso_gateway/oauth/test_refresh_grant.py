"""What a refresh grant asks of its token and of its resource owner when it rotates it: the
scope it asks for, granted (RFC 6749 §6, narrowing allowed); the account not erased; the
learner's access to a training platform not suspended, even while a session of theirs lives."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from tests.sso_gateway.support import (
    Account,
    Platform,
    basic,
    browser,
    introspect,
    make_client,
    make_user,
    refresh,
    signed_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def signed_in_person(sso: FastAPI, platform: Platform) -> tuple[Account, dict[str, str]]:
    account = await make_user(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, account)
    assert "refresh_token" in tokens, tokens
    return account, tokens


async def test_a_refresh_may_ask_for_less_than_was_granted(sso: FastAPI) -> None:
    platform = await make_client(sso)
    _, tokens = await signed_in_person(sso, platform)
    async with browser(sso) as http:
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        narrowed = await http.post("/token", data={**form, "scope": "openid"}, auth=basic(platform))
        again = await refresh(http, platform, tokens["refresh_token"])
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "openid"
    # Rotated: the token it was asked with is used up.
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("training_platform", "status", "error"),
    [(True, 400, "access_denied"), (False, 200, None)],
    ids=["training-platform", "other-platform"],
)
async def test_a_suspended_learner_refreshes_only_for_other_platforms(
    sso: FastAPI, training_platform: bool, status: int, error: str | None
) -> None:
    platform = await make_client(sso, training_platform=training_platform)
    account, tokens = await signed_in_person(sso, platform)
    # A suspension that did not end the learner's sessions (the enforcers that do so are
    # another component's): the grant still refuses a training platform on its own.
    async with sso.state.runtime.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO access_states (learner_id, suspended) VALUES ($1, true)", account.id
        )
    async with browser(sso) as http:
        answer = await refresh(http, platform, tokens["refresh_token"])
    assert answer.status_code == status, answer.text
    assert answer.json().get("error") == error


async def test_an_erased_account_gets_no_token_even_with_a_live_session(sso: FastAPI) -> None:
    platform = await make_client(sso)
    account, tokens = await signed_in_person(sso, platform)
    async with sso.state.runtime.pool.acquire() as conn:
        await conn.execute("UPDATE users SET erased_at = now() WHERE id = $1", account.id)
    async with browser(sso) as http:
        answer = await refresh(http, platform, tokens["refresh_token"])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_concurrent_refreshes_each_get_a_pair_that_is_stored_before_the_answer(
    sso: FastAPI,
) -> None:
    """The pairs of concurrent grants are written together (``TokenPairWriter``): each answer
    leaves only once its own pair is committed, so each new refresh token works at once, and
    each new access token is known to introspection."""
    platform = await make_client(sso)
    people = [await signed_in_person(sso, platform) for _ in range(6)]
    async with browser(sso) as http:
        answers = await asyncio.gather(
            *(refresh(http, platform, tokens["refresh_token"]) for _, tokens in people)
        )
        assert [a.status_code for a in answers] == [200] * len(people), [a.text for a in answers]
        fresh = [a.json() for a in answers]
        assert len({t["refresh_token"] for t in fresh}) == len(people)
        known = [await introspect(http, platform, t["access_token"]) for t in fresh]
        again = await asyncio.gather(*(refresh(http, platform, t["refresh_token"]) for t in fresh))
    assert all(k["active"] for k in known), known
    assert [a.status_code for a in again] == [200] * len(people), [a.text for a in again]
    subjects = {k["sub"] for k in known}
    assert subjects == {account.id for account, _ in people}
