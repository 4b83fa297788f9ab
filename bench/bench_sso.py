"""sso_gateway beside panva's ``oidc-provider`` (npm), configured alike, in the same run:
client-credentials and refresh grants per second, JWKS and discovery requests per second, and
the latency 200 concurrent clients see; full logins per second (argon2id at OWASP parameters);
and, as a second reference, Keycloak's published sizing figures per vCPU.

Both providers run as one process each on this machine (the gateway: ``python -m sso_gateway``
on the embedded stack's PostgreSQL and broker; the peer: ``bench/peers/oidc_provider.mjs``, JWT
access tokens signed ES256 for a resource indicator, ``client_secret_basic``, refresh tokens
rotated, its default in-memory store). Both are driven by the same load generator,
``bench/peers/load.mjs`` (autocannon), which runs in node so that it takes no time from the
gateway's interpreter. The peer and the load generator are installed, pinned, by
``npm install --prefix bench/.peers`` (git-ignored) on first use. Figures are medians of
``--runs`` runs.

Run: ``python bench/bench_sso.py [--runs N] [--seconds S] [--logins N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from _stack import median, percentile, print_table, run, stack

from sso_gateway import crypto
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.config import Settings
from sso_gateway.oauth.grants.base import REFRESH_TOKEN_PREFIX
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.sessions.service import sessions
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.embedded import free_port

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".peers"
PEER_PACKAGES = ("oidc-provider@9.13.3", "autocannon@9.0.0")
PEER = "panva oidc-provider 9.13.3, same machine, same run"
KEYCLOAK = (
    "Keycloak sizing guide, per vCPU: "
    "https://www.keycloak.org/high-availability/single-cluster/concepts-memory-and-cpu-sizing"
)
# Keycloak 26 "Concepts for sizing CPU and memory resources": allocate one vCPU per 15
# password-based logins/s, per 120 client-credentials grants/s, per 120 refresh requests/s.
KEYCLOAK_PER_VCPU = {"logins": 15.0, "client_credentials": 120.0, "refresh": 120.0}
CLIENTS = 200
PASSWORD = "benchmark password 2026"
REDIRECT = "https://bench.example/cb"
FORM = "application/x-www-form-urlencoded"
DISCOVERY = "/.well-known/openid-configuration"


def install_peers() -> None:
    wanted = {spec.rsplit("@", 1)[0]: spec.rsplit("@", 1)[1] for spec in PEER_PACKAGES}
    installed = {}
    for name in wanted:
        manifest = PEERS / "node_modules" / name / "package.json"
        if manifest.exists():
            installed[name] = json.loads(manifest.read_text())["version"]
    if installed != wanted:
        subprocess.run(
            ["npm", "install", "--prefix", str(PEERS), "--no-audit", "--no-fund", *PEER_PACKAGES],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    for script in (HERE / "peers").glob("*.mjs"):
        shutil.copy(script, PEERS / script.name)


async def wait_for(url: str, process: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"{url}: the server exited ({process.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


@contextlib.asynccontextmanager
async def running(
    command: list[str], env: dict[str, str], ready: str, cwd: Path | None = None
) -> AsyncIterator[int]:
    """Start a server, wait until ``ready`` answers, yield its pid; stop it after."""
    # The servers' own logs (e.g. clients that hang up when a load run ends) go to a file,
    # not between the figures.
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            *command, env={**os.environ, **env}, cwd=cwd, stdout=log, stderr=log
        )
        try:
            try:
                await wait_for(ready, process)
            except (RuntimeError, TimeoutError):
                log.seek(0)
                sys.stderr.write(log.read()[-4000:].decode(errors="replace"))
                raise
            yield process.pid
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def load(job: dict[str, Any], *, warm_up: bool = False) -> dict[str, Any]:
    """One run of ``bench/peers/load.mjs``."""
    process = await asyncio.create_subprocess_exec(
        "node", "load.mjs", json.dumps(job), cwd=PEERS, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    result: dict[str, Any] = json.loads(out.decode().splitlines()[0])
    if result["ok"] == 0 and not warm_up:
        raise RuntimeError(f"no successful request: {job['url']}{job['path']} {result}")
    return result


def rate(result: dict[str, Any]) -> float:
    return float(result["ok"]) / float(result["seconds"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux ``/proc``): requests per CPU-second
    compares the providers' efficiency even when other work on the machine takes its share of
    the cores, which throughput alone does not."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def setup(settings: Settings, logins: int) -> tuple[str, str, list[str]]:
    conn = await db.connect(settings.database_url, "sso")
    try:
        created = await client.add(
            conn,
            ClientCreate(
                client_id="bench",
                name="Bench",
                redirect_uris=[REDIRECT],
                grant_types=["authorization_code", "refresh_token", "client_credentials"],
            ),
            secret_key=settings.secret_key,
        )
        names = []
        for i in range(logins):
            await user.create(
                conn,
                UserCreate(
                    username=f"bench{i}",
                    email=f"bench{i}@example.org",
                    display_name="Bench",
                    password=PASSWORD,
                ),
            )
            names.append(f"bench{i}")
    finally:
        await conn.close()
    assert created.client_secret is not None
    return created.client_id, created.client_secret, names


async def mint_refresh_tokens(settings: Settings, user_id: str, count: int) -> list[str]:
    """Refresh tokens as code exchanges would have left them (one grant family each), written
    straight to the store like the peer's ``/bench/refresh-tokens``: the refresh figure then
    measures refresh grants, not logins."""
    conn = await db.connect(settings.database_url, "sso")
    tokens = []
    try:
        session_id, _ = await sessions.open(conn, settings, user_id=user_id, ip=None)
        for _ in range(count):
            token = crypto.new_secret(REFRESH_TOKEN_PREFIX)
            await grant_repository.insert_refresh_token(
                conn,
                token_hash=crypto.keyed_hash(settings.secret_key, token),
                family_id=f"f-{secrets.token_hex(16)}",
                client_id="bench",
                user_id=user_id,
                session_id=session_id,
                scope="openid profile email",
                auth_time=utcnow(),
                expires_at=utcnow() + timedelta(days=1),
            )
            tokens.append(token)
    finally:
        await conn.close()
    return tokens


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def login(base: str, client_id: str, secret: str, username: str) -> None:
    """One learner's full login: authorize, login form, code, token."""
    verifier = secrets.token_urlsafe(48)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid profile email",
            "state": "s",
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
    )
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        to_login = await http.get(f"/authorize?{query}")
        form_url = to_login.headers["location"]
        form = await http.get(form_url)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        posted = await http.post(
            "/login",
            data={
                "identifier": username,
                "password": PASSWORD,
                "csrf_token": token.group(1),
                "next": parse_qs(urlsplit(form_url).query)["next"][0],
            },
        )
        back = await http.get(urljoin(base, posted.headers["location"]))
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        tokens = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            auth=(client_id, secret),
        )
        assert tokens.status_code == 200, tokens.text


async def logins_per_second(base: str, client_id: str, secret: str, users: list[str]) -> float:
    queue = list(users)

    async def worker() -> None:
        while queue:
            await login(base, client_id, secret, queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(8)))
    return len(users) / (time.perf_counter() - started)


class Side:
    """One provider under test: where it listens and how to get refresh tokens from it."""

    def __init__(
        self,
        base: str,
        auth: str,
        mint: Callable[[int], Any],
        path_jwks: str,
        resource: str,
        pid: int,
    ) -> None:
        self.pid = pid
        self.base = base
        self.headers = {"authorization": f"Basic {auth}", "content-type": FORM}
        self.mint = mint
        self.path_jwks = path_jwks
        self.resource = resource

    async def settle(self) -> None:
        """Wait until the previous phase's backlog is served (an unrelated request answered
        quickly again), so that one phase's queue does not count against the next."""
        deadline = time.monotonic() + 15
        async with httpx.AsyncClient(base_url=self.base) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                with contextlib.suppress(httpx.HTTPError):
                    await http.get(DISCOVERY, timeout=15)
                if time.perf_counter() - started < 0.02:
                    return
                await asyncio.sleep(0.05)

    async def probe(self, stop: asyncio.Event, latencies: list[float]) -> None:
        """An unrelated request (discovery) every 20 ms: a provider whose event loop waits on
        grants would answer it late."""
        async with httpx.AsyncClient(base_url=self.base) as http:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    await http.get(DISCOVERY, timeout=30)
                except httpx.HTTPError:
                    latencies.append(30_000.0)
                else:
                    latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)

    def grant(self) -> dict[str, Any]:
        return {
            "url": self.base,
            "method": "POST",
            "path": "/token",
            "headers": self.headers,
            "body": urlencode({"grant_type": "client_credentials", "resource": self.resource}),
            "connections": CLIENTS,
        }

    async def warm_up(self) -> None:
        """Fill the connection pools and caches before anything is measured."""
        await load({**self.grant(), "duration": 3}, warm_up=True)
        await self.settle()

    async def saturate(self, job: dict[str, Any]) -> tuple[float, float]:
        """Requests per second, and per CPU-second of the provider's process."""
        before = cpu_seconds(self.pid)
        result = await load(job)
        used = cpu_seconds(self.pid) - before
        return rate(result), result["ok"] / used if used > 0 else float("nan")

    async def measure(self, seconds: float) -> dict[str, float]:
        grant = self.grant()
        figures: dict[str, float] = {}
        await self.settle()
        stop = asyncio.Event()
        latencies: list[float] = []
        prober = asyncio.create_task(self.probe(stop, latencies))
        figures["cc"], figures["cc_cpu"] = await self.saturate({**grant, "duration": seconds})
        stop.set()
        await prober
        figures["probe_p99"] = percentile(latencies, 99)
        await self.settle()
        paced = await load({**grant, "duration": seconds, "paced": 1})
        figures["cc_p50"], figures["cc_p99"] = paced["p50"], paced["p99"]
        tokens = await self.mint(3 * CLIENTS)
        await self.settle()
        figures["refresh"], figures["refresh_cpu"] = await self.saturate(
            {**grant, "body": None, "duration": seconds, "refreshTokens": tokens}
        )
        for name, path in (("jwks", self.path_jwks), ("discovery", DISCOVERY)):
            await self.settle()
            figures[name], figures[f"{name}_cpu"] = await self.saturate(
                {
                    "url": self.base,
                    "method": "GET",
                    "path": path,
                    "connections": CLIENTS,
                    "duration": max(2.0, seconds / 2),
                }
            )
        return figures


def med(runs: list[dict[str, float]], key: str) -> float:
    return median([run[key] for run in runs])


def print_side_by_side(
    ours_runs: list[dict[str, float]], peer_runs: list[dict[str, float]]
) -> None:
    side_by_side = [
        ("client_credentials grants/s, 200 clients", "cc", "grants/s"),
        ("refresh grants/s (rotation), 200 clients", "refresh", "grants/s"),
        ("JWKS requests/s, 200 clients", "jwks", "req/s"),
        ("discovery requests/s, 200 clients", "discovery", "req/s"),
        ("client_credentials grants per CPU-second (1 process)", "cc_cpu", "grants/CPU-s"),
        ("refresh grants per CPU-second (1 process)", "refresh_cpu", "grants/CPU-s"),
        ("JWKS requests per CPU-second (1 process)", "jwks_cpu", "req/CPU-s"),
        ("discovery requests per CPU-second (1 process)", "discovery_cpu", "req/CPU-s"),
        ("client_credentials p50, 200 clients x 1 grant/s", "cc_p50", "ms"),
        ("client_credentials p99, 200 clients x 1 grant/s", "cc_p99", "ms"),
        ("discovery p99 while grants saturate", "probe_p99", "ms"),
    ]
    print_table(
        "sso_gateway beside oidc-provider",
        [
            (name, med(ours_runs, key), med(peer_runs, key), unit)
            for name, key, unit in side_by_side
        ],
        reference=PEER,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per figure and run")
    parser.add_argument("--logins", type=int, default=40)
    args = parser.parse_args()
    install_peers()
    async with stack() as infra:
        port, peer_port = free_port(), free_port()
        settings = Settings(
            database_url=infra.database_url,
            kafka_bootstrap=infra.bootstrap,
            http_port=port,
            issuer=f"http://127.0.0.1:{port}",
            login_max_failures_per_ip=10**6,
        )
        env = {
            "VIGIE_DATABASE_URL": settings.database_url,
            "VIGIE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "VIGIE_HTTP_PORT": str(port),
            "VIGIE_ISSUER": settings.issuer,
            "VIGIE_LOGIN_MAX_FAILURES_PER_IP": str(10**6),
            "VIGIE_LOG_LEVEL": "WARNING",
        }
        ours_cmd = [sys.executable, "-m", "sso_gateway"]
        async with running(ours_cmd, env, f"{settings.issuer}/healthz") as ours_pid:
            client_id, secret, users = await setup(settings, args.logins)
            auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            conn = await db.connect(settings.database_url, "sso")
            first_user = await conn.fetchval("SELECT id FROM users WHERE username = 'bench0'")
            await conn.close()
            peer_env = {"PORT": str(peer_port), "CLIENT_SECRET": secret}
            peer_base = f"http://127.0.0.1:{peer_port}"

            async def mint_peer(count: int) -> list[str]:
                async with httpx.AsyncClient(timeout=60) as http:
                    minted: list[str] = (
                        await http.post(f"{peer_base}/bench/refresh-tokens", params={"n": count})
                    ).json()
                    return minted

            ours = Side(
                settings.issuer,
                auth,
                lambda n: mint_refresh_tokens(settings, first_user, n),
                "/jwks",
                client_id,
                ours_pid,
            )
            ours_runs: list[dict[str, float]] = []
            peer_runs: list[dict[str, float]] = []
            async with running(
                ["node", "oidc_provider.mjs"],
                peer_env,
                f"{peer_base}/.well-known/openid-configuration",
                cwd=PEERS,
            ) as peer_pid:
                peer = Side(peer_base, auth, mint_peer, "/jwks", "urn:vigie:bench-api", peer_pid)
                await ours.warm_up()
                await peer.warm_up()
                for _ in range(args.runs):
                    ours_runs.append(await ours.measure(args.seconds))
                    peer_runs.append(await peer.measure(args.seconds))
                print_side_by_side(ours_runs, peer_runs)
            cpu_before = cpu_seconds(ours_pid)
            logins_s = await logins_per_second(settings.issuer, client_id, secret, users)
            logins_cpu = len(users) / (cpu_seconds(ours_pid) - cpu_before)

    # Keycloak's figures are per vCPU; ours are divided by every vCPU of the machine, though
    # PostgreSQL and the load generator share them: a conservative reading.
    vcpus = os.cpu_count() or 1
    print_table(
        "sso_gateway beside Keycloak's sizing figures",
        [
            ("full logins/s (form + code + token, argon2id)", logins_s, None, "logins/s"),
            (
                # Keycloak's sizing is per vCPU given to Keycloak, its database apart: the
                # nearest figure of ours is logins per CPU-second of the gateway's process
                # (argon2id's worker threads included).
                "full logins per CPU-second of the gateway process",
                logins_cpu,
                KEYCLOAK_PER_VCPU["logins"],
                "logins/CPU-s",
            ),
            (
                f"logins/s per vCPU ({vcpus} vCPUs, DB included)",
                logins_s / vcpus,
                KEYCLOAK_PER_VCPU["logins"],
                "logins/s/vCPU",
            ),
            (
                "client_credentials grants/s per vCPU",
                med(ours_runs, "cc") / vcpus,
                KEYCLOAK_PER_VCPU["client_credentials"],
                "grants/s/vCPU",
            ),
            (
                "refresh grants/s per vCPU",
                med(ours_runs, "refresh") / vcpus,
                KEYCLOAK_PER_VCPU["refresh"],
                "grants/s/vCPU",
            ),
        ],
        reference=KEYCLOAK,
    )


if __name__ == "__main__":
    run(main())
