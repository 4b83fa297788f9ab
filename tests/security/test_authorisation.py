"""Authorisation everywhere (OWASP API Security Top 10 2023, API1 and API5: object- and
function-level authorisation): walk each service's OpenAPI document and call every operation
without a token, with a learner's token where the DPO or an admin is needed, and with another
learner's token on per-learner resources. Nothing answers with data; every refusal is
recorded (``vigie.security.access.denied``) and the audit log stores it.

An operation added later is covered without editing this file; a deliberately public one must
be listed in ``PUBLIC`` with the reason it may be."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.security.conftest import Services, unique
from tests.sso_gateway.support import ADMIN_RESOURCE, browser, make_client, make_user, signed_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

DENIED = "vigie.security.access.denied"

PUBLIC: dict[str, dict[tuple[str, str], str]] = {
    "dpo": {
        ("GET", "/healthz"): "liveness",
        ("GET", "/readyz"): "readiness",
        ("POST", "/public/requests"): "anyone may exercise a right; identity checked by e-mail",
        ("POST", "/public/requests/{submission_id}/confirm"): "the e-mailed code is the proof",
        ("GET", "/packages/{token}"): "the signed, expiring link is the credential",
    },
    "audit": {
        ("GET", "/healthz"): "liveness",
        ("GET", "/readyz"): "readiness",
        ("GET", "/checkpoints/keys"): "public keys to verify checkpoints with",
        ("GET", "/checkpoint"): "the signed tree head: sizes and hashes, nothing personal",
        ("GET", "/tile/{level}/{path}"): "hash tiles: hashes only (entry bundles need a token)",
    },
    "sso": {
        ("GET", "/healthz"): "liveness",
        ("GET", "/readyz"): "readiness",
        ("GET", "/.well-known/openid-configuration"): "OIDC Discovery",
        ("GET", "/jwks"): "public keys",
        ("GET", "/.well-known/ssf-configuration"): "SSF 1.0 transmitter metadata, public by design",
        ("GET", "/authorize"): "starts a login",
        ("POST", "/par"): "client authentication of its own, as at /token (RFC 9126 §2)",
        ("POST", "/token"): "client authentication of its own (RFC 6749 §2.3)",
        ("POST", "/introspect"): "client authentication of its own (RFC 7662 §2.1)",
        ("POST", "/revoke"): "client authentication of its own (RFC 7009 §2.1)",
        ("GET", "/logout"): "RP-initiated logout, confirmed with CSRF protection",
        ("POST", "/logout"): "RP-initiated logout, confirmed with CSRF protection",
        ("GET", "/"): "redirects to the login form without a session cookie",
        ("GET", "/login"): "the login form",
        ("POST", "/login"): "the login form",
        ("GET", "/password"): "a person's own password form: redirects to the login form"
        " without a session cookie",
        ("POST", "/password"): "a person's own password change: refused without a session"
        " cookie, the current password and the form's CSRF token",
    },
}

# Operations a learner may call: on their own resources only.
LEARNER_ALLOWED = {
    ("POST", "/requests"),
    ("GET", "/requests"),
    ("GET", "/requests/{request_id}"),
    ("POST", "/requests/{request_id}/withdraw"),
}


def operations(app: FastAPI) -> Iterator[tuple[str, str]]:
    for path, item in app.openapi()["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path


def concrete(path: str) -> str:
    """A path template with placeholder values (refusal must come before any lookup)."""
    return (
        path.replace("{index}", "0")
        .replace("{request_id}", "r-unknown")
        .replace("{learner_id}", "u-unknown")
        .replace("{identifier}", "u-unknown")
        .replace("{task_id}", "t-unknown")
        .replace("{name}", "archives")
        .replace("{submission_id}", "s-unknown")
    )


# Bodies that pass validation, for operations that check the caller only after the body
# (see test_the_gateway_authenticates_before_validating_the_body).
VALID_BODIES: dict[str, dict[str, Any]] = {
    "/admin/access/{learner_id}/suspend": {"reason": "test"},
    "/admin/access/{learner_id}/restore": {"reason": "test"},
}


async def call(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = VALID_BODIES.get(path, {}) if method in ("POST", "PUT", "PATCH") else None
    return await http.request(method, concrete(path), json=body, headers=headers or {})


def assert_refused(response: httpx.Response, allowed: tuple[int, ...], what: str) -> None:
    assert response.status_code in allowed, f"{what}: {response.status_code} {response.text}"
    if response.content:
        assert response.headers["content-type"] == "application/problem+json", what


async def denials(app: FastAPI, since_id: int = 0) -> list[dict[str, Any]]:
    """The refusals this service recorded (its outbox: exactly what goes to Kafka)."""
    rows = await Services.pool(app).fetch(
        "SELECT id, key, headers, value FROM outbox WHERE id > $1 ORDER BY id", since_id
    )
    found = []
    for row in rows:
        headers = dict(row["headers"])
        if headers["ce_type"] == DENIED:
            found.append({"key": row["key"].decode(), **json.loads(row["value"])})
    return found


async def last_outbox_id(app: FastAPI) -> int:
    value = await Services.pool(app).fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    return int(value)


@pytest.mark.parametrize("name", ["dpo", "audit"])
async def test_every_operation_refuses_a_caller_without_a_token_and_records_it(
    services: Services, name: str
) -> None:
    app = services.dpo if name == "dpo" else services.audit
    before = await last_outbox_id(app)
    tried = []
    async with services.client(app) as http:
        for method, path in operations(app):
            if (method, path) in PUBLIC[name]:
                continue
            assert_refused(await call(http, method, path), (401,), f"{method} {path}")
            bad = await call(http, method, path, {"Authorization": "Bearer not-a-token"})
            assert_refused(bad, (401,), f"{method} {path} with a garbage token")
            tried.append(concrete(path))
    assert len(tried) >= 5
    recorded = await denials(app, before)
    reasons = {(d["path"], d["reason"]) for d in recorded}
    for path in tried:
        assert (path, "missing_token") in reasons, path
        assert (path, "invalid_token") in reasons, path
    assert {d["key"] for d in recorded} == {"anonymous"}
    assert {d["status"] for d in recorded} == {401}
    assert {d["service"] for d in recorded} == {"dpo_requests" if name == "dpo" else "audit_log"}


@pytest.mark.parametrize("name", ["dpo", "audit"])
async def test_a_learner_token_opens_no_dpo_or_admin_operation(
    services: Services, name: str
) -> None:
    app = services.dpo if name == "dpo" else services.audit
    learner = unique("u-learner")
    headers = (
        services.dpo_headers(learner, "learner")
        if name == "dpo"
        else services.audit_headers(learner, "learner")
    )
    before = await last_outbox_id(app)
    tried = []
    async with services.client(app) as http:
        for method, path in operations(app):
            if (method, path) in PUBLIC[name] or (
                name == "dpo" and (method, path) in LEARNER_ALLOWED
            ):
                continue
            assert_refused(await call(http, method, path, headers), (403,), f"{method} {path}")
            tried.append(concrete(path))
    recorded = [d for d in await denials(app, before) if d["key"] == learner]
    assert sorted(d["path"] for d in recorded) == sorted(tried)
    assert {(d["status"], d["reason"], d["user_id"]) for d in recorded} == {
        (403, "missing_role", learner)
    }


async def submit(services: Services, http: httpx.AsyncClient, learner: str) -> str:
    response = await http.post(
        "/requests",
        json={"request_type": "access", "message": "Mes données, s'il vous plaît."},
        headers=services.dpo_headers(learner, "learner"),
    )
    assert response.status_code == 201, response.text
    request_id: str = response.json()["id"]
    return request_id


async def test_a_learner_never_reads_or_withdraws_another_learners_request(
    services: Services,
) -> None:
    owner, other = unique("u-owner"), unique("u-other")
    async with services.client(services.dpo) as http:
        request_id = await submit(services, http, owner)
        mine = await http.get(
            f"/requests/{request_id}", headers=services.dpo_headers(owner, "learner")
        )
        theirs = await http.get(
            f"/requests/{request_id}", headers=services.dpo_headers(other, "learner")
        )
        withdraw = await http.post(
            f"/requests/{request_id}/withdraw",
            json={"reason": "not mine"},
            headers=services.dpo_headers(other, "learner"),
        )
        listed = await http.get("/requests", headers=services.dpo_headers(other, "learner"))
        unknown = await http.get(
            "/requests/r-does-not-exist", headers=services.dpo_headers(other, "learner")
        )
        still = await http.get(
            f"/requests/{request_id}", headers=services.dpo_headers(owner, "learner")
        )
    assert mine.status_code == 200
    # 404 rather than 403: another person's request is not even confirmed to exist.
    assert_refused(theirs, (404,), "another learner's request")
    assert theirs.json()["detail"] == unknown.json()["detail"].replace(
        "r-does-not-exist", request_id
    )
    assert_refused(withdraw, (404,), "withdrawing another learner's request")
    assert request_id not in listed.text
    assert still.json()["status"] == mine.json()["status"]


async def test_reading_another_learners_request_is_recorded(services: Services) -> None:
    owner, other = unique("u-owner"), unique("u-other")
    async with services.client(services.dpo) as http:
        request_id = await submit(services, http, owner)
        before = await last_outbox_id(services.dpo)
        theirs = await http.get(
            f"/requests/{request_id}", headers=services.dpo_headers(other, "learner")
        )
    assert theirs.status_code == 404
    recorded = await denials(services.dpo, before)
    assert [(d["key"], d["path"], d["status"]) for d in recorded] == [
        (other, f"/requests/{request_id}", 404)
    ]


async def test_gateway_admin_operations_refuse_anonymous_callers_and_learners(
    services: Services,
) -> None:
    sso = services.sso
    learner = await make_user(sso)
    platform = await make_client(sso, audiences=[ADMIN_RESOURCE])
    async with browser(sso) as http:
        # A learner's token issued for the admin API itself: refused for the role (403).
        token = (await signed_in(sso, http, platform, learner, resource=ADMIN_RESOURCE))[
            "access_token"
        ]
        for method, path in operations(sso):
            if (method, path) in PUBLIC["sso"]:
                continue
            anonymous = await call(http, method, path)
            assert_refused(anonymous, (401,), f"{method} {path}")
            if path.startswith("/admin"):
                as_learner = await call(http, method, path, {"Authorization": f"Bearer {token}"})
                assert_refused(as_learner, (403,), f"{method} {path} as a learner")


async def test_the_gateway_authenticates_before_validating_the_body(services: Services) -> None:
    async with browser(services.sso) as http:
        anonymous = await http.post("/admin/access/u-unknown/suspend", json={})
    assert anonymous.status_code == 401


async def test_gateway_admin_refusals_are_recorded(services: Services) -> None:
    sso = services.sso
    before = await last_outbox_id(sso)
    async with browser(sso) as http:
        refused = await http.get("/admin/backchannel-logout/undelivered")
    assert refused.status_code == 401
    recorded = await denials(sso, before)
    assert [(d["path"], d["reason"]) for d in recorded] == [
        ("/admin/backchannel-logout/undelivered", "missing_token")
    ]


async def test_the_audit_log_stores_the_refusals_of_every_service(services: Services) -> None:
    """End to end: the refusal leaves dpo_requests' (and audit_log's own) outbox, crosses
    Kafka, and is an entry of the audit log a DPO can query."""
    prober = unique("u-prober")
    async with services.client(services.dpo) as dpo, services.client(services.audit) as audit:
        refused = await dpo.get("/register", headers=services.dpo_headers(prober, "learner"))
        assert refused.status_code == 403
        refused = await audit.get("/entries", headers=services.audit_headers(prober, "learner"))
        assert refused.status_code == 403
        officer = services.audit_headers("u-dpo-officer", "dpo")
        deadline = time.monotonic() + 30
        while True:
            found = (
                await audit.get(
                    "/entries", params={"type": DENIED, "subject": prober}, headers=officer
                )
            ).json()["entries"]
            if len(found) == 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert sorted((e["source"], e["data"]["path"]) for e in found) == [
        ("/vigie/audit_log", "/entries"),
        ("/vigie/dpo_requests", "/register"),
    ]
    for entry in found:
        assert entry["data"]["status"] == 403
        assert entry["data"]["reason"] == "missing_role"
        assert entry["data"]["user_id"] == prober
