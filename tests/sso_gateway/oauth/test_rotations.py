"""Refresh tokens' rotations written together (``RotationWriter``): each request's conditions
kept (RFC 6749 §6 scope, RFC 8707 §2.2 resource, RFC 9449 §5.8 key), each token used up once
(RFC 9700 §4.14.2), and a token presented twice at once still found reused."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from sso_gateway import crypto
from sso_gateway.oauth import revocation
from sso_gateway.oauth.access_tokens import RotationWriter
from sso_gateway.oauth.records import RotatedRefreshToken, Rotation, TokenPair
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.sessions.service import idle_window, sessions
from tests.sso_gateway.oauth.support import CountingPool, pool_of
from tests.sso_gateway.support import (
    Account,
    Platform,
    browser,
    make_client,
    make_user,
    refresh,
    signed_in,
    unique,
)
from vigie_shared.kit.clock import utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCOPE = "openid profile"


async def stored_token(
    sso: FastAPI,
    platform: Platform,
    account: Account,
    *,
    resource: str | None = None,
    dpop_jkt: str | None = None,
) -> str:
    """The hash of a refresh token as a code exchange leaves it, in a live session."""
    settings = sso.state.provider.settings
    token_hash = crypto.keyed_hash(settings.secret_key, secrets.token_urlsafe(32))
    async with pool_of(sso).acquire() as conn:
        session_id, _ = await sessions.open(conn, settings, user_id=account.id, ip=None)
        await grant_repository.insert_token_pairs(
            conn,
            [
                TokenPair(
                    jti=unique("jti"),
                    access_expires_at=utcnow() + timedelta(minutes=5),
                    token_hash=token_hash,
                    family_id=unique("family"),
                    client_id=platform.client_id,
                    user_id=account.id,
                    session_id=session_id,
                    scope=SCOPE,
                    auth_time=utcnow(),
                    expires_at=utcnow() + timedelta(days=1),
                    resource=resource,
                    dpop_jkt=dpop_jkt,
                )
            ],
        )
    return token_hash


def asked(token_hash: str, platform: Platform, **overrides: Any) -> Rotation:
    fields: dict[str, Any] = {
        "token_hash": token_hash,
        "client_id": platform.client_id,
        "scope": (),
        "resource": None,
        "dpop_jkt": None,
        **overrides,
    }
    return Rotation(**fields)


def writer_for(sso: FastAPI) -> RotationWriter:
    return RotationWriter(idle_window(sso.state.provider.settings))


async def used(sso: FastAPI, token_hash: str) -> bool:
    async with pool_of(sso).acquire() as conn:
        token = await grant_repository.get_refresh_token(conn, token_hash)
    assert token is not None
    return token.used_at is not None


async def test_concurrent_rotations_go_in_one_statement_and_each_gets_its_own_token(
    sso: FastAPI,
) -> None:
    platform = await make_client(sso)
    people = [await make_user(sso) for _ in range(5)]
    hashes = [await stored_token(sso, platform, person) for person in people]
    writer = writer_for(sso)
    pool = CountingPool(pool_of(sso))
    writer.start(pool)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(writer.write(asked(h, platform)) for h in hashes))
    # All five were queued before the writer first ran: one statement.
    assert pool.acquired == 1
    assert all(isinstance(a, RotatedRefreshToken) for a in answers), answers
    rotated = [a for a in answers if a is not None]
    # Each request gets its own token back, with that token's owner.
    assert [a.token.user_id for a in rotated] == [p.id for p in people]
    assert [a.owner.id for a in rotated] == [p.id for p in people]
    assert [a.suspended for a in rotated] == [False] * len(people)
    assert [await used(sso, h) for h in hashes] == [True] * len(hashes)


async def test_each_rotation_of_a_batch_keeps_its_own_conditions(sso: FastAPI) -> None:
    platform = await make_client(sso)
    person = await make_user(sso)
    good = await stored_token(sso, platform, person)
    narrower = await stored_token(sso, platform, person)
    wider = await stored_token(sso, platform, person)
    for_api = await stored_token(sso, platform, person, resource="https://api.example.org")
    elsewhere = await stored_token(sso, platform, person)
    bound = await stored_token(sso, platform, person, dpop_jkt="key-a")
    other_key = await stored_token(sso, platform, person, dpop_jkt="key-a")
    other_client = await make_client(sso)
    batch = [
        asked(good, platform),
        # RFC 6749 §6: less than was granted, yes; more, no.
        asked(narrower, platform, scope=("openid",)),
        asked(wider, platform, scope=("openid", "email")),
        # RFC 8707 §2.2: a resource the grant was authorized for, yes; another, no.
        asked(for_api, platform, resource="https://api.example.org"),
        asked(elsewhere, platform, resource="https://api.example.org"),
        # RFC 9449 §5.8: a bound token only with a proof of its key.
        asked(bound, platform, dpop_jkt="key-a"),
        asked(other_key, platform, dpop_jkt="key-b"),
        # Another client's request for this client's token, and a token never issued.
        asked(good, other_client),
        asked("unknown-hash", platform),
    ]
    writer = writer_for(sso)
    writer.start(pool_of(sso))
    answers = await asyncio.gather(*(writer.write(a) for a in batch))
    rotated = [a is not None for a in answers]
    assert rotated == [True, True, False, True, False, True, False, False, False]
    # Nothing was used up for a request that was refused.
    assert [await used(sso, h) for h in (wider, elsewhere, other_key)] == [False] * 3


async def test_a_token_asked_twice_in_a_batch_rotates_once(sso: FastAPI) -> None:
    platform = await make_client(sso)
    token_hash = await stored_token(sso, platform, await make_user(sso))
    writer = writer_for(sso)
    writer.start(pool_of(sso))
    answers = await asyncio.gather(*(writer.write(asked(token_hash, platform)) for _ in range(2)))
    assert sorted(a is not None for a in answers) == [False, True]


async def test_a_refresh_token_presented_twice_at_once_is_found_reused(sso: FastAPI) -> None:
    """RFC 9700 §4.14.2, as behind a row lock: one request may rotate the token, the other
    finds it used and the whole family is revoked, the new pair with it: whichever comes
    first, no refresh token the two were answered with works."""
    platform = await make_client(sso)
    async with browser(sso) as http:
        tokens = await signed_in(sso, http, platform, await make_user(sso))
        answers = await asyncio.gather(
            *(refresh(http, platform, tokens["refresh_token"]) for _ in range(2))
        )
        statuses = sorted(a.status_code for a in answers)
        # Both refused when the revocation came before the first's pair was written.
        assert statuses in ([200, 400], [400, 400]), [a.text for a in answers]
        assert [a.json()["error"] for a in answers if a.status_code == 400] in (
            ["invalid_grant"],
            ["invalid_grant"] * 2,
        )
        issued = [a.json()["refresh_token"] for a in answers if a.status_code == 200]
        again = [await refresh(http, platform, token) for token in issued]
    assert [a.status_code for a in again] == [400] * len(issued), [a.text for a in again]


async def test_a_pair_is_not_written_in_place_of_a_token_revoked_meanwhile(
    sso: FastAPI,
) -> None:
    """The order the test above cannot choose: the family revoked after the token rotated,
    before its new pair is written."""
    platform = await make_client(sso)
    account = await make_user(sso)
    old = await stored_token(sso, platform, account)
    async with pool_of(sso).acquire() as conn:
        (rotated,) = await grant_repository.rotate_refresh_tokens(
            conn, idle_window(sso.state.provider.settings), [asked(old, platform)]
        )
        assert rotated is not None
        await revocation.revoke_family(conn, rotated.token.family_id, "refresh_token_reused")
        pair = TokenPair(
            jti=unique("jti"),
            access_expires_at=utcnow() + timedelta(minutes=5),
            token_hash=unique("new-hash"),
            family_id=rotated.token.family_id,
            client_id=platform.client_id,
            user_id=account.id,
            session_id=rotated.token.session_id,
            scope=SCOPE,
            auth_time=utcnow(),
            expires_at=utcnow() + timedelta(days=1),
            replaces=old,
        )
        first_grant = replace(pair, jti=unique("jti"), token_hash=unique("other"), replaces=None)
        written = await grant_repository.insert_token_pairs(conn, [pair, first_grant])
        assert written == [False, True]
        assert await grant_repository.get_refresh_token(conn, pair.token_hash) is None


async def test_a_deadlocked_batch_is_asked_again_one_rotation_at_a_time(
    sso: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = await make_client(sso)
    people = [await make_user(sso) for _ in range(3)]
    hashes = [await stored_token(sso, platform, person) for person in people]
    rotate = grant_repository.rotate_refresh_tokens
    sizes: list[int] = []

    async def deadlocks_when_many(
        conn: Any, idle: float, rotations: list[Rotation]
    ) -> list[RotatedRefreshToken | None]:
        sizes.append(len(rotations))
        if len(rotations) > 1:
            raise asyncpg.DeadlockDetectedError("deadlock detected")
        return await rotate(conn, idle, rotations)

    monkeypatch.setattr(grant_repository, "rotate_refresh_tokens", deadlocks_when_many)
    writer = writer_for(sso)
    writer.start(pool_of(sso))
    answers = await asyncio.gather(*(writer.write(asked(h, platform)) for h in hashes))
    assert sizes == [3, 1, 1, 1]
    assert [a.token.user_id if a else None for a in answers] == [p.id for p in people]
