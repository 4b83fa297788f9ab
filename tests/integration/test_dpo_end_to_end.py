"""The data-subject rights workflow end to end, with the real services as data systems: the
sso_gateway (served over HTTP, the OIDC provider), the audit_log and the example Moodle connector
answer dpo_requests' tasks over the real broker (Tansu) and PostgreSQL.

A learner logs in at the gateway (authorization code + PKCE, with Authlib's client), files an
access request with the access token, the DPO (logged in the same way) verifies it, every system
answers, and the learner downloads the package through its signed link; it holds the gateway's,
the audit log's and Moodle's parts. Then an erasure request for the same learner completes:
afterwards the learner can no longer log in, the audit log's entries about them no longer open
(crypto-shredded) and the tree still verifies.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import pytest_asyncio
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI

from audit_log.app import create_app as audit_app
from audit_log.config import Settings as AuditSettings
from audit_log.context import AuditLog
from audit_log.offline_proofs.format import check, parse
from dpo_requests.app import create_app as dpo_app
from dpo_requests.config import Settings as DpoSettings
from dpo_requests.connectors import moodle_example
from sso_gateway.app import create_app as sso_app
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client as oidc_clients
from sso_gateway.config import Settings as SsoSettings
from sso_gateway.login.pages import SESSION_COOKIE
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user as users
from tests.fixtures.serving import eventually, own_database, serving
from tests.fixtures.stack import Broker
from tests.sso_gateway.support import csrf_of
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.runtime import Runtime

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.broker,
    pytest.mark.both_brokers,
]

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
SYSTEMS = {"sso_gateway", "audit_log", "moodle"}
ERASURE_TRAIL = {
    "vigie.dpo.request.received",
    "vigie.dpo.request.verified",
    "vigie.dpo.task.requested",
    "vigie.dpo.request.completed",
    "vigie.sso.session.revoked",
    "vigie.sso.user.erased",
}


@pytest_asyncio.fixture(loop_scope="session")
async def database(admin_dsn: str) -> AsyncIterator[str]:
    """A database of this test's own: the services' fixed schemas (sso, audit) start empty and
    the audit tree holds only this story."""
    async with own_database(admin_dsn, f"vigie_e2e_{uuid.uuid4().hex[:10]}") as dsn:
        yield dsn


@contextlib.asynccontextmanager
async def lifespan_of(app: FastAPI) -> AsyncIterator[None]:
    async with app.router.lifespan_context(app):
        yield


@contextlib.asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[None]:
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


@dataclass
class Person:
    id: str
    username: str
    email: str


@dataclass
class Stack:
    issuer: str
    dpo_url: str
    sso: FastAPI
    dpo: FastAPI
    audit: FastAPI
    moodle: Runtime
    client_secret: str

    @property
    def audit_log(self) -> AuditLog:
        audit: AuditLog = self.audit.state.audit
        return audit


@contextlib.asynccontextmanager
async def stack(database_url: str, bootstrap: str) -> AsyncIterator[Stack]:
    sso_port, dpo_port = free_port(), free_port()
    issuer, dpo_url = f"http://127.0.0.1:{sso_port}", f"http://127.0.0.1:{dpo_port}"
    common: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap": bootstrap,
        "env": "development",
    }
    sso = sso_app(SsoSettings(**common, issuer=issuer, backchannel_poll_seconds=0))
    audit = audit_app(AuditSettings(**common, issuer=issuer, checkpoint_interval_seconds=0.5))
    dpo = dpo_app(
        DpoSettings(
            **common,
            issuer=issuer,
            public_url=dpo_url,
            scheduler_interval_seconds=0.2,
            task_timeout_seconds=60,
        )
    )
    moodle = moodle_example.build(moodle_example.MoodleSettings(**common, moodle_schema="moodle"))
    async with contextlib.AsyncExitStack() as exits:
        # Each start waits for its consumer group to form: start them side by side.
        await asyncio.gather(
            exits.enter_async_context(serving(sso, sso_port, lifespan="on")),
            exits.enter_async_context(serving(dpo, dpo_port, lifespan="on")),
            exits.enter_async_context(lifespan_of(audit)),
            exits.enter_async_context(running(moodle)),
        )
        async with sso.state.runtime.pool.acquire() as conn:
            created = await oidc_clients.add(
                conn,
                # client_id = the audience dpo_requests expects (RFC 9068 §2.2: aud names the
                # resource the learner's token is for).
                ClientCreate(
                    client_id="dpo-requests",
                    name="Demandes RGPD",
                    training_platform=False,
                    redirect_uris=[REDIRECT_URI],
                ),
                secret_key=sso.state.provider.settings.secret_key,
            )
        assert created.client_secret is not None
        yield Stack(issuer, dpo_url, sso, dpo, audit, moodle, created.client_secret)


async def make_person(s: Stack, name: str, roles: list[str]) -> Person:
    username = f"{name}-{uuid.uuid4().hex[:6]}"
    email = f"{username}@example.org"
    async with s.sso.state.runtime.pool.acquire() as conn:
        created = await users.create(
            conn,
            UserCreate(
                username=username, email=email, display_name=name, password=PASSWORD, roles=roles
            ),
        )
    return Person(created.id, username, email)


async def fill_login_form(
    browser: httpx.AsyncClient, login_url: str, identifier: str
) -> httpx.Response:
    form = await browser.get(login_url)
    assert form.status_code == 200, form.text
    return await browser.post(
        "/login",
        data={
            "identifier": identifier,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": parse_qs(urlsplit(login_url).query)["next"][0],
            "lang": "fr",
        },
    )


async def log_in(s: Stack, person: Person) -> dict[str, Any]:
    """A relying party written with Authlib only: code flow + PKCE S256 (RFC 7636), the login
    form filled by a browser keeping cookies; returns the token response."""
    async with httpx.AsyncClient() as http:
        metadata = (await http.get(f"{s.issuer}/.well-known/openid-configuration")).json()
    verifier = generate_token(48)
    async with (
        AsyncOAuth2Client(
            client_id="dpo-requests",
            client_secret=s.client_secret,
            scope="openid profile email",
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
        ) as rp,
        httpx.AsyncClient(base_url=s.issuer) as browser,
    ):
        url, state = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier
        )
        to_login = await browser.get(url)
        assert to_login.status_code == 302, to_login.text
        submitted = await fill_login_form(
            browser, urljoin(s.issuer, to_login.headers["location"]), person.username
        )
        assert submitted.status_code == 303, submitted.text
        back = await browser.get(urljoin(s.issuer, submitted.headers["location"]))
        callback = back.headers["location"]
        assert parse_qs(urlsplit(callback).query)["state"] == [state]
        token: dict[str, Any] = await rp.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
    return token


def bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


async def audit_entries(s: Stack, subject: str) -> list[Any]:
    async with s.audit.state.runtime.pool.acquire() as conn:
        entries: list[Any] = await s.audit_log.query.export(conn, subject)
    return entries


async def request_detail(
    http: httpx.AsyncClient, request_id: str, token: dict[str, Any]
) -> dict[str, Any]:
    detail: dict[str, Any] = (
        await http.get(f"/requests/{request_id}", headers=bearer(token))
    ).json()
    return detail


async def file_and_verify(
    http: httpx.AsyncClient,
    request_type: str,
    learner: dict[str, Any],
    officer: dict[str, Any],
) -> str:
    created = await http.post(
        "/requests", json={"request_type": request_type}, headers=bearer(learner)
    )
    assert created.status_code == 201, created.text
    request_id: str = created.json()["id"]
    verified = await http.post(
        f"/requests/{request_id}/verify", json={"method": "sso"}, headers=bearer(officer)
    )
    assert verified.status_code == 200, verified.text
    return request_id


async def test_learner_gets_every_systems_data_then_is_erased_everywhere(
    database: str, private_broker: Broker
) -> None:
    checked: list[str] = []
    async with (
        stack(database, private_broker.bootstrap) as s,
        httpx.AsyncClient(base_url=s.dpo_url, timeout=10) as http,
    ):
        learner = await make_person(s, "camille", ["learner"])
        officer = await make_person(s, "dpo", ["dpo"])
        async with s.moodle.pool.acquire() as conn:
            await moodle_example.enrol(
                conn,
                user_id=learner.id,
                email=learner.email,
                firstname="Camille",
                lastname="Martin",
                courses={"MAT101": "Mathématiques"},
            )

        learner_token = await log_in(s, learner)
        officer_token = await log_in(s, officer)
        checked.append("learner and DPO logged in at the gateway (code + PKCE, Authlib client)")

        async def systems() -> set[str]:
            listed = await http.get("/data-systems", headers=bearer(officer_token))
            assert listed.status_code == 200, listed.text
            return {d["name"] for d in listed.json()}

        assert await eventually(systems, until=lambda found: found >= SYSTEMS) >= SYSTEMS
        # The login must be in the audit log before it is asked for the learner's entries.
        logged = await eventually(
            lambda: audit_entries(s, learner.id),
            until=lambda es: any(e.type == "vigie.sso.login.succeeded" for e in es),
        )
        assert any(e.type == "vigie.sso.login.succeeded" for e in logged)

        # ---- access (GDPR Art. 15)
        access_id = await file_and_verify(http, "access", learner_token, officer_token)
        detail = await eventually(
            lambda: request_detail(http, access_id, learner_token),
            until=lambda d: d["status"] == "completed",
        )
        assert detail["status"] == "completed", detail
        assert {t["system"]: t["status"] for t in detail["tasks"]} == {
            name: "completed" for name in SYSTEMS
        }
        assert detail["result"]["partial"] is False
        link = detail["result"]["package_url"]
        assert link.startswith(f"{s.dpo_url}/packages/")
        async with httpx.AsyncClient() as outsider:
            download = await outsider.get(link)
        assert download.status_code == 200, download.text
        assert download.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        assert {f"csv/{name}.csv" for name in SYSTEMS} <= set(archive.namelist())
        parts = json.loads(archive.read("data.json"))["systems"]
        gateway = parts["sso_gateway"]["data"]
        assert gateway["profile"]["email"] == learner.email
        assert any(h["succeeded"] for h in gateway["login_history"])
        assert "dpo-requests" in gateway["platforms_used"]
        audit_part = parts["audit_log"]["data"]["entries"]
        exported_types = {e["type"] for e in audit_part}
        assert {"vigie.sso.user.created", "vigie.sso.login.succeeded"} <= exported_types
        assert all(e["data_subject"] == learner.id for e in audit_part)
        created_entry = next(e for e in audit_part if e["type"] == "vigie.sso.user.created")
        assert created_entry["data"]["email"] == learner.email
        assert parts["moodle"]["data"]["account"]["email"] == learner.email
        # Each entry comes with its offline proof (C2SP tlog-proof) against a signed checkpoint.
        keys = parts["audit_log"]["data"]["log_verifier_keys"]
        for e in audit_part:
            assert check(parse(e["tlog_proof"]), keys[-1]).tree_size > e["index"]
        checked.append(
            f"access {access_id}: package downloaded over HTTP ({len(download.content)} bytes)"
            f" with sso_gateway ({len(gateway['login_history'])} logins), audit_log"
            f" ({len(audit_part)} entries) and moodle parts"
        )

        # The audit log's ingestion and its data-system consumer are separate consumers: let
        # the ingestion catch up with the access request before the erasure is asked for.
        def access_trail(entries: list[Any]) -> list[str]:
            return sorted(e.type for e in entries if e.type.startswith("vigie.dpo."))

        whole_trail = [
            "vigie.dpo.request.completed",
            "vigie.dpo.request.received",
            "vigie.dpo.request.verified",
        ] + ["vigie.dpo.task.requested"] * len(SYSTEMS)
        caught_up = await eventually(
            lambda: audit_entries(s, learner.id),
            until=lambda es: access_trail(es) == whole_trail,
        )
        assert access_trail(caught_up) == whole_trail

        # ---- erasure (GDPR Art. 17)
        erasure_id = await file_and_verify(http, "erasure", learner_token, officer_token)
        detail = await eventually(
            lambda: request_detail(http, erasure_id, officer_token),
            until=lambda d: d["status"] == "completed",
        )
        assert detail["status"] == "completed", detail
        outcomes = {o["system"]: o["outcome"] for o in detail["result"]["systems"]}
        assert outcomes == {name: f"done by {name}" for name in SYSTEMS}
        rows = await s.dpo.state.runtime.pool.fetch(
            "SELECT system, data FROM tasks WHERE request_id = $1", erasure_id
        )
        answers = {r["system"]: r["data"] for r in rows}
        assert answers["sso_gateway"]["erased"] is True
        assert answers["audit_log"]["shredded_keys"] >= 1
        checked.append(f"erasure {erasure_id}: completed by {sorted(outcomes)}")

        async with httpx.AsyncClient(base_url=s.issuer) as browser:
            for identifier in (learner.username, learner.email):
                refused = await fill_login_form(browser, f"{s.issuer}/login?next=/", identifier)
                assert refused.status_code == 200, refused.text
                assert SESSION_COOKIE not in browser.cookies
        async with AsyncOAuth2Client(
            client_id="dpo-requests", client_secret=s.client_secret, token=learner_token
        ) as rp:
            metadata = (await rp.get(f"{s.issuer}/.well-known/openid-configuration")).json()
            with pytest.raises(OAuthError, match="invalid_grant"):
                await rp.refresh_token(metadata["token_endpoint"])
        checked.append("after erasure the login (by username and by e-mail) and refresh fail")

        # What the learner did before asking for erasure no longer opens; what stays readable is
        # the erasure's own trail, kept as the proof it was done (GDPR Art. 5(2)), which names
        # the learner only by the pseudonymous id.
        entries = await eventually(
            lambda: audit_entries(s, learner.id),
            until=lambda es: any(e.type == "vigie.sso.user.erased" for e in es),
        )
        erasure_asked = datetime.fromisoformat(detail["received_at"])
        early = [e for e in entries if e.time < erasure_asked]
        assert early
        assert all(e.shredded and e.data is None for e in early)
        assert {"vigie.sso.user.created", "vigie.sso.login.succeeded"} <= {e.type for e in early}
        trail = [e for e in entries if e.time >= erasure_asked]
        assert {e.type for e in trail} <= ERASURE_TRAIL, [e.type for e in trail]
        assert all(learner.email not in json.dumps(e.data) for e in trail)
        async with s.audit.state.runtime.pool.acquire() as conn:
            sealed = await conn.fetch(
                "SELECT data_ct FROM log_entries WHERE data_subject = $1", learner.id
            )
            report = await s.audit_log.verifier.run(conn)
        assert all(learner.email.encode() not in bytes(r["data_ct"]) for r in sealed)
        assert report.ok, str(report.first_bad)
        assert report.tree_size >= len(entries)
        assert report.checkpoints_checked >= 1
        checked.append(
            f"audit log: {len(early)} entries about the learner shredded, {len(trail)} of the"
            f" erasure's own trail kept, tree of {report.tree_size} entries verifies"
            f" ({report.checkpoints_checked} checkpoints)"
        )
    print("\nchecked end to end:\n  " + "\n  ".join(checked))
