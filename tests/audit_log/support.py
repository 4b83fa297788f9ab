"""What the audit_log tests share: the log under test on a schema of its own and entries to
append to it, the app in process with tokens from a fake issuer (the outside world for a
resource server), and the third-party Go transparency-log tools the tests run."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from audit_log.app import create_app
from audit_log.config import Settings
from audit_log.context import AuditLog
from audit_log.tree.leaf import Leaf
from audit_log.tree.repository import tree_repository
from audit_log.tree.service import NewEntry
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.oidc import TokenVerifier

ISSUER = "http://sso.test"
ROOT = Path(__file__).resolve().parents[2]
GOBIN = ROOT / ".tools" / "go" / "bin"
TLOG_VERIFY_SOURCE = ROOT / "tools" / "tlog-verify"


@dataclass
class LogUnderTest:
    settings: Settings
    schema: str
    pool: asyncpg.Pool
    audit: AuditLog

    async def append(self, *entries: NewEntry) -> list[Leaf]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await self.audit.tree.append(conn, list(entries))


def entry(
    n: int,
    *,
    subject: str = "u-1",
    type_: str = "vigie.sso.login.succeeded",
    actor: str | None = None,
    time: datetime | None = None,
    data: dict[str, Any] | None = None,
    facets: dict[str, Any] | None = None,
    topic: str = "identity.events.v1",
) -> NewEntry:
    return NewEntry(
        event_id=f"ev-{n}-{uuid.uuid4().hex[:8]}",
        topic=topic,
        type=type_,
        source="/vigie/sso_gateway",
        subject=subject,
        actor=actor,
        time=time or utcnow() - timedelta(seconds=1000 - n),
        data_subject=subject,
        data=data if data is not None else {"user_id": subject, "ip": f"10.0.0.{n % 250}"},
        facets=facets or {},
    )


async def tamper(log: LogUnderTest, *statements: str) -> None:
    """What an attacker with database access does: bypass the append-only triggers."""
    async with log.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        for sql in statements:
            await conn.execute(sql)


async def forge_actor(log: LogUnderTest, index: int, actor: str) -> None:
    """Rewrite entry ``index``'s actor together with its stored leaf hash, as an attacker who
    knows the leaf format would: storage stays self-consistent, only signed roots tell."""
    async with log.pool.acquire() as conn:
        stored = await tree_repository.leaf(conn, index)
    assert stored is not None
    forged = dataclasses.replace(stored.leaf, actor=actor)
    async with log.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(
            "UPDATE log_entries SET actor = $1, leaf_hash = $2 WHERE leaf_index = $3",
            actor,
            forged.hash(),
            index,
        )


class FakeIssuer:
    """The sso_gateway as a resource server sees it: discovery document and JWKS."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))

    def verifier(self) -> TokenVerifier:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return TokenVerifier(ISSUER, "audit-log", http=http)

    def token(self, sub: str, roles: list[str]) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "audit-log", "sub": sub, "exp": now + 300, "roles": roles}
        token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "k1"}, claims, self.key)
        return {"Authorization": f"Bearer {token}"}


Api = tuple[httpx.AsyncClient, FakeIssuer]
"""The app in process and the issuer of the tokens it accepts (the ``api`` fixture)."""


def app_of(
    log: LogUnderTest, issuer: FakeIssuer | None = None, audit: AuditLog | None = None
) -> FastAPI:
    """The app on the log's pool and service objects (or ``audit``, built on other settings),
    its lifespan not started; it accepts ``issuer``'s tokens when one is given."""
    audit = audit or log.audit
    app = create_app(audit.settings)
    app.state.runtime = SimpleNamespace(pool=log.pool)
    app.state.audit = audit
    if issuer is not None:
        app.state.token_verifier = issuer.verifier()
    return app


def go() -> str | None:
    return shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None
    )


async def log_vkey(log: LogUnderTest) -> str:
    """The log's current verifier key, in the signed-note ``name+keyid+base64`` form."""
    async with log.pool.acquire() as conn:
        return (await log.audit.checkpoints.verifier_keys(conn))[-1]


TORCHWOOD = "filippo.io/torchwood@v0.6.1"
"""Filippo Valsorda's transparency-log tools (repository FiloSottile/litetlog), pinned."""


def torchwood_tools(*commands: str) -> Path:
    """The directory holding ``commands`` of torchwood (``cmd/<name>``) at the pinned version,
    installed once with ``go install`` from the Go module proxy."""
    stamp = GOBIN / f".{TORCHWOOD.replace('/', '_')}-{'-'.join(sorted(commands))}"
    if stamp.exists() and all((GOBIN / c).exists() for c in commands):
        return GOBIN
    compiler = go()
    if compiler is None:
        pytest.skip(f"Go is not installed: torchwood's {', '.join(commands)} cannot be built")
    module, version = TORCHWOOD.split("@")
    subprocess.run(
        [compiler, "install", *(f"{module}/cmd/{c}@{version}" for c in commands)],
        env={**os.environ, "GOBIN": str(GOBIN)},
        check=True,
        timeout=600,
    )
    stamp.touch()
    return GOBIN


def build_tlog_verify() -> Path:
    """tools/tlog-verify (torchwood's tlog client, on the Go project's sumdb/note and
    sumdb/tlog), built once per change of its source; go.mod and go.sum pin its modules, which
    the module cache serves offline once fetched."""
    binary = GOBIN / "tlog-verify"
    sources = [p for p in TLOG_VERIFY_SOURCE.iterdir() if p.suffix in (".go", ".mod", ".sum")]
    if binary.exists() and binary.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return binary
    compiler = go()
    if compiler is None:
        pytest.skip("Go is not installed: the third-party verifier cannot be built")
    binary.parent.mkdir(parents=True, exist_ok=True)
    building = binary.with_name(f"tlog-verify.{os.getpid()}")
    subprocess.run(
        [compiler, "build", "-mod=readonly", "-o", str(building), "."],
        cwd=TLOG_VERIFY_SOURCE,
        check=True,
        timeout=600,
    )
    # Atomic: another worker building at the same time leaves a whole binary too.
    building.replace(binary)
    return binary


def offline() -> list[str]:
    """A command prefix that runs its command with no network at all (a new network namespace
    of its own, nothing but a loopback that is down), where the kernel allows it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    allowed = subprocess.run([unshare, "--net", "--map-root-user", "true"], check=False)
    return [unshare, "--net", "--map-root-user"] if allowed.returncode == 0 else []


def run_tlog_proof_check(binary: Path, proof: str, vkey: str, *args: str) -> tuple[int, str]:
    """tools/tlog-verify's offline mode on ``proof``: no URL is given, it reads only the file,
    and it runs without network where :func:`offline` can arrange it."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "entry.tlog-proof"
        path.write_text(proof, encoding="utf-8")
        done = subprocess.run(
            [*offline(), str(binary), "-proof", str(path), "-vkey", vkey, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    print(done.stdout, done.stderr, end="")
    return done.returncode, done.stdout + done.stderr


def event_id(record: ConsumerRecord[Any, Any]) -> str:
    """The CloudEvents id a record carries (its ``ce_id`` header)."""
    value: bytes = dict(record.headers)["ce_id"]
    return value.decode()


async def stored_ids(log: LogUnderTest) -> list[str]:
    """The event ids of the log's entries, in leaf order."""
    async with log.pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id FROM log_entries ORDER BY leaf_index")
    return [row["event_id"] for row in rows]
