"""sso_gateway beside panva's ``oidc-provider`` (npm), configured alike, in the same run:
client-credentials and refresh grants per second, JWKS and discovery requests per second, and
the latency 200 concurrent clients see; full logins per second (argon2id at OWASP parameters);
and the same figures for Keycloak, started here too.

Both providers run as one process each on this machine (the gateway: ``python -m sso_gateway``
on the embedded stack's PostgreSQL and broker; the peer: ``bench/peers/oidc_provider.mjs``, JWT
access tokens signed ES256 for a resource indicator, ``client_secret_basic``, refresh tokens
rotated, its default in-memory store). Both are driven by the same load generator,
``bench/peers/load.mjs`` (autocannon), which runs in node so that it takes no time from the
gateway's interpreter. The peer and the load generator are installed, pinned, by
``npm install --prefix bench/.peers`` (git-ignored) on first use. Figures are medians of
``--runs`` runs.

Keycloak (``org.keycloak:keycloak-quarkus-dist``, pinned in ``tools/keycloak/pom.xml``) is
unpacked by Maven into ``.tools/keycloak/`` on first use and started as ``kc.sh start-dev``
starts it (the same JVM options, ``lib/quarkus-run.jar``), one JVM on loopback, its database
the embedded H2 in memory (``--db=dev-mem``: nothing written to disk, where the gateway writes
every grant to PostgreSQL). It imports ``bench/peers/keycloak_realm.json``: the same client,
the same users and password, argon2id at the gateway's cost (19 MiB, 2 iterations, 1 lane),
ES256 tokens, refresh tokens rotated. Without Java or Maven its column is left empty, with the
reason printed.

Run: ``python bench/bench_sso.py [--runs N] [--seconds S] [--logins N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from _stack import cpu_seconds, median, percentile, print_comparison, run, stack
from joserfc import jwt
from joserfc.jwk import ECKey

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
KEYCLOAK_VERSION = "26.7.3"
KEYCLOAK_HOME = HERE.parent / ".tools" / "keycloak" / f"keycloak-{KEYCLOAK_VERSION}"
KEYCLOAK_POM = HERE.parent / "tools" / "keycloak" / "pom.xml"
KEYCLOAK = f"Keycloak {KEYCLOAK_VERSION} start-dev, H2 in memory, same machine, same run"
KEYCLOAK_OIDC = "/protocol/openid-connect"
# The gateway's argon2id cost (users/service.py), given to Keycloak's argon2 provider.
KEYCLOAK_ARGON2 = {"memory": "19456", "iterations": "2", "parallelism": "1", "type": "id"}
# kc.sh's exit code when it has rebuilt its configuration and must be started again.
KEYCLOAK_REBUILT = 10
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


class Exited(RuntimeError):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code


async def wait_for(url: str, process: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise Exited(process.returncode, f"{url}: the server exited")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


@contextlib.asynccontextmanager
async def running(
    command: list[str],
    env: dict[str, str],
    ready: str,
    cwd: Path | None = None,
    timeout: float = 60,
    quiet_exit: int | None = None,
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
                await wait_for(ready, process, timeout)
            except Exited as exited:
                if exited.code != quiet_exit:
                    log.seek(0)
                    sys.stderr.write(log.read()[-4000:].decode(errors="replace"))
                raise
            except TimeoutError:
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
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=PEERS) as spec:
        spec.write(json.dumps(job))
        spec.flush()
        process = await asyncio.create_subprocess_exec(
            "node", "load.mjs", f"@{spec.name}", cwd=PEERS, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
    result: dict[str, Any] = json.loads(out.decode().splitlines()[0])
    if result["ok"] == 0 and not warm_up:
        raise RuntimeError(f"no successful request: {job['url']}{job['path']} {result}")
    return result


def rate(result: dict[str, Any]) -> float:
    return float(result["ok"]) / float(result["seconds"])


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux ``/proc``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


async def refreshed_access_token(base: str, auth: str, refresh_token: str) -> str:
    """The access token a refresh grant gives for ``refresh_token`` (a user's, openid scope)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        answer = await http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            headers={"authorization": f"Basic {auth}"},
        )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


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


def java_for_keycloak() -> str | None:
    """A ``java`` Keycloak runs on: ``$KEYCLOAK_JAVA``, else the one on PATH."""
    return os.environ.get("KEYCLOAK_JAVA") or shutil.which("java")


def install_keycloak() -> str | None:
    """Unpack the pinned distribution once; None when ready, else why Keycloak is skipped."""
    if (KEYCLOAK_HOME / "lib" / "quarkus-run.jar").exists():
        return None
    if java_for_keycloak() is None:
        return "no java on PATH (set KEYCLOAK_JAVA)"
    if shutil.which("mvn") is None:
        return "no mvn on PATH to fetch the Keycloak distribution"
    fetched = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(KEYCLOAK_POM), "dependency:unpack"],
        check=False,
        capture_output=True,
        text=True,
    )
    if fetched.returncode or not (KEYCLOAK_HOME / "lib" / "quarkus-run.jar").exists():
        return (
            f"mvn could not fetch keycloak-quarkus-dist {KEYCLOAK_VERSION}: {fetched.stdout[-300:]}"
        )
    return None


def keycloak_realm(secret: str, users: list[str]) -> None:
    """The realm Keycloak imports at start (``--import-realm`` reads ``data/import``): the
    template with the client's secret and the gateway's users, password included (Keycloak
    hashes it at import under the realm's policy)."""
    realm = json.loads((HERE / "peers" / "keycloak_realm.json").read_text())
    realm["clients"][0]["secret"] = secret
    realm["users"] = [
        {
            "username": name,
            "email": f"{name}@example.org",
            "firstName": "Bench",
            "lastName": "Bench",
            "enabled": True,
            "emailVerified": True,
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        }
        for name in users
    ]
    target = KEYCLOAK_HOME / "data" / "import"
    target.mkdir(parents=True, exist_ok=True)
    # Keycloak imports every file there and keeps the first realm of a name: only this one.
    for stale in target.glob("*.json"):
        stale.unlink()
    (target / "bench-realm.json").write_text(json.dumps(realm))


def keycloak_command(java: str, port: int, built: bool) -> list[str]:
    """What ``bin/kc.sh start-dev`` runs, with its default JVM options (heap 64-512 MiB, G1)."""
    home = str(KEYCLOAK_HOME)
    spi = [f"--spi-password-hashing--argon2--{k}={v}" for k, v in KEYCLOAK_ARGON2.items()]
    return [
        java,
        *(["-Dkc.config.built=true"] if built else []),
        "-Djava.util.concurrent.ForkJoinPool.common.threadFactory="
        "io.quarkus.bootstrap.forkjoin.QuarkusForkJoinWorkerThreadFactory",
        "-XX:MetaspaceSize=96M",
        "-XX:MaxMetaspaceSize=256m",
        "-Dfile.encoding=UTF-8",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.security.egd=file:/dev/urandom",
        "-XX:+UseG1GC",
        "-Xms64m",
        "-Xmx512m",
        "--add-opens=java.base/java.util=ALL-UNNAMED",
        "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
        "--add-opens=java.base/java.security=ALL-UNNAMED",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "-Duser.language=en",
        "-Duser.country=US",
        f"-Dkc.home.dir={home}",
        f"-Djboss.server.config.dir={home}/conf",
        "-Djava.util.logging.manager=org.jboss.logmanager.LogManager",
        "-Dpicocli.disable.closures=true",
        "-Dquarkus-log-max-startup-records=10000",
        "-cp",
        f"{home}/lib/quarkus-run.jar",
        "io.quarkus.bootstrap.runner.QuarkusEntryPoint",
        "start-dev",
        "--http-host=127.0.0.1",
        f"--http-port={port}",
        f"--http-management-port={free_port()}",
        "--db=dev-mem",
        "--import-realm",
        # start-dev turns theme caching off, for editing themes; a deployment keeps it on.
        "--spi-theme--cache-themes=true",
        "--spi-theme--cache-templates=true",
        "--log-level=WARN",
        *spi,
    ]


@contextlib.asynccontextmanager
async def running_keycloak(java: str, port: int) -> AsyncIterator[int]:
    """Keycloak's pid once its realm answers; like kc.sh, start again when the first start
    only rebuilt the configuration."""
    ready = f"http://127.0.0.1:{port}/realms/bench{DISCOVERY}"
    for built in (False, True):
        try:
            async with running(
                keycloak_command(java, port, built),
                {},
                ready,
                timeout=300,
                quiet_exit=None if built else KEYCLOAK_REBUILT,
            ) as pid:
                yield pid
                return
        except Exited as exited:
            if built or exited.code != KEYCLOAK_REBUILT:
                raise
    raise AssertionError("unreachable")


async def keycloak_password_grant(http: httpx.AsyncClient, secret: str, username: str) -> Any:
    """The answer to a password grant (a new session), the only way in without a browser."""
    answer = await http.post(
        f"{KEYCLOAK_OIDC}/token",
        data={
            "grant_type": "password",
            "username": username,
            "password": PASSWORD,
            "scope": "openid profile email",
        },
        auth=("bench", secret),
    )
    answer.raise_for_status()
    return answer.json()


async def keycloak_refresh_tokens(base: str, secret: str, username: str, count: int) -> list[str]:
    """Refresh tokens from ``count`` sessions of one user (Keycloak keeps one valid refresh
    token per session and client when it rotates them)."""
    tokens: list[str] = []

    async def grant(http: httpx.AsyncClient) -> None:
        while len(tokens) < count:
            tokens.append("")
            answer = await keycloak_password_grant(http, secret, username)
            tokens[tokens.index("")] = answer["refresh_token"]

    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        await asyncio.gather(*(grant(http) for _ in range(4)))
    return tokens[:count]


async def keycloak_user_token(base: str, secret: str, username: str) -> str:
    """A user's access token with the openid scope."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        token: str = (await keycloak_password_grant(http, secret, username))["access_token"]
    return token


async def keycloak_login(base: str, secret: str, username: str) -> None:
    """One full login at Keycloak: authorize, login form, code, token (PKCE S256)."""
    verifier = secrets.token_urlsafe(48)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "bench",
            "redirect_uri": REDIRECT,
            "scope": "openid profile email",
            "state": "s",
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
    )
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        form = await http.get(f"{KEYCLOAK_OIDC}/auth?{query}")
        action = re.search(r'id="kc-form-login"[^>]*action="([^"]+)"', form.text) or re.search(
            r'action="([^"]+login-actions/authenticate[^"]*)"', form.text
        )
        assert action is not None, form.text[:300]
        # Keycloak marks its session cookies Secure (SameSite=None), which a client does not
        # send over plain HTTP: sent by hand, on loopback.
        cookies = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)
        posted = await http.post(
            html.unescape(action.group(1)),
            data={"username": username, "password": PASSWORD, "credentialId": ""},
            headers={"cookie": cookies},
        )
        assert posted.status_code == 302, posted.text[:300]
        code = parse_qs(urlsplit(posted.headers["location"]).query)["code"][0]
        tokens = await http.post(
            f"{KEYCLOAK_OIDC}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            auth=("bench", secret),
        )
        assert tokens.status_code == 200, tokens.text


async def timed_logins(
    login_one: Callable[[str], Any], pid: int, users: list[str]
) -> tuple[float, float]:
    """Full logins per second with 8 learners at a time, and per CPU-second of ``pid``."""
    queue = list(users)

    async def worker() -> None:
        while queue:
            await login_one(queue.pop())

    before = cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(8)))
    elapsed = time.perf_counter() - started
    return len(users) / elapsed, len(users) / (cpu_seconds(pid) - before)


def dpop_proof(method: str, url: str) -> str:
    """A DPoP proof (RFC 9449 §4.2) of a fresh ES256 key, as a client would send it."""
    key = ECKey.generate_key("P-256")
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
    return jwt.encode(header, claims, key)


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
        token_path: str = "/token",
        prefix: str = "",
        introspect_path: str = "/introspect",
        userinfo_path: str = "/userinfo",
        user_token: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        """``prefix``: where the provider's paths start (Keycloak's are under its realm);
        ``user_token``: a fresh access token of a user with the openid scope, for UserInfo and
        introspection."""
        self.pid = pid
        self.token_path = prefix + token_path
        self.discovery = prefix + DISCOVERY
        self.base = base
        self.headers = {"authorization": f"Basic {auth}", "content-type": FORM}
        self.mint = mint
        self.path_jwks = prefix + path_jwks
        self.resource = resource
        self.introspect_path = prefix + introspect_path
        self.userinfo_path = prefix + userinfo_path
        self.user_token = user_token
        self.userinfo_unmeasured: str | None = None
        self.dpop_unbound: str | None = "not probed yet"
        self.introspect_unmeasured: str | None = None

    async def token(self, *, dpop: bool = False) -> dict[str, Any]:
        """One client-credentials grant's answer, with a DPoP proof if asked (RFC 9449 §5)."""
        grant = self.grant()
        headers = dict(self.headers)
        if dpop:
            headers["DPoP"] = dpop_proof("POST", f"{self.base}{self.token_path}")
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            answer = await http.post(self.token_path, content=grant["body"], headers=headers)
        answer.raise_for_status()
        token: dict[str, Any] = answer.json()
        return token

    async def binds_dpop(self) -> str | None:
        """None when a proof at the token endpoint gets a DPoP-bound token, else why not."""
        try:
            token = await self.token(dpop=True)
        except httpx.HTTPError as failed:
            return f"a grant with a DPoP proof failed: {failed}"[:200]
        if str(token.get("token_type", "")).lower() != "dpop":
            return f"token_type {token.get('token_type')!r} with a DPoP proof: not bound"
        return None

    async def introspects(self, access_token: str) -> bool:
        """Whether the provider says its own fresh token is active (RFC 7662 §2.2); if not, a
        figure of its answers would time a refusal, and ``introspect_unmeasured`` says why."""
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            answer = await http.post(
                self.introspect_path,
                content=urlencode({"token": access_token}),
                headers=self.headers,
            )
        if answer.status_code == 200 and answer.json().get("active") is True:
            return True
        self.introspect_unmeasured = f"{answer.status_code} {answer.text[:120]}"
        return False

    async def serves_userinfo(self, access_token: str) -> bool:
        """Whether UserInfo (OpenID Connect Core §5.3) answers the user's token with its
        ``sub``; if not, ``userinfo_unmeasured`` says why."""
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            answer = await http.get(
                self.userinfo_path, headers={"authorization": f"Bearer {access_token}"}
            )
        if answer.status_code == 200 and answer.json().get("sub"):
            return True
        self.userinfo_unmeasured = f"{answer.status_code} {answer.text[:120]}"
        return False

    async def settle(self) -> None:
        """Wait until the previous phase's backlog is served (an unrelated request answered
        quickly again), so that one phase's queue does not count against the next."""
        deadline = time.monotonic() + 15
        async with httpx.AsyncClient(base_url=self.base) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                with contextlib.suppress(httpx.HTTPError):
                    await http.get(self.discovery, timeout=15)
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
                    await http.get(self.discovery, timeout=30)
                except httpx.HTTPError:
                    latencies.append(30_000.0)
                else:
                    latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)

    def grant(self) -> dict[str, Any]:
        return {
            "url": self.base,
            "method": "POST",
            "path": self.token_path,
            "headers": self.headers,
            "body": urlencode({"grant_type": "client_credentials", "resource": self.resource}),
            "connections": CLIENTS,
        }

    async def warm_up(self) -> None:
        """Fill the connection pools and caches before anything is measured, and learn
        whether the provider binds tokens to DPoP keys (``dpop_unbound``: why not)."""
        await load({**self.grant(), "duration": 3}, warm_up=True)
        self.dpop_unbound = await self.binds_dpop()
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
        if self.dpop_unbound is None:
            await self.settle()
            figures["cc_dpop"], figures["cc_dpop_cpu"] = await self.saturate(
                {**grant, "duration": seconds, "dpop": True}
            )
        await self.settle()
        # A user's token, the kind a platform introspects and presents to UserInfo: all
        # three providers answer both for it (oidc-provider does not introspect its JWTs for
        # a resource server, and Keycloak calls a client-credentials token inactive).
        if self.user_token is None:
            self.introspect_unmeasured = self.userinfo_unmeasured = "no user token"
        else:
            access_token = await self.user_token()
            if await self.introspects(access_token):
                figures["introspect"], figures["introspect_cpu"] = await self.saturate(
                    {
                        **grant,
                        "path": self.introspect_path,
                        "body": urlencode({"token": access_token}),
                        "duration": seconds,
                    }
                )
            if await self.serves_userinfo(access_token):
                await self.settle()
                figures["userinfo"], figures["userinfo_cpu"] = await self.saturate(
                    {
                        "url": self.base,
                        "method": "GET",
                        "path": self.userinfo_path,
                        "headers": {"authorization": f"Bearer {access_token}"},
                        "connections": CLIENTS,
                        "duration": seconds,
                    }
                )
        for name, path in (("jwks", self.path_jwks), ("discovery", self.discovery)):
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
        figures["rss"] = rss_mib(self.pid)
        for key in ("cc_cpu", "refresh_cpu", "cc_dpop_cpu"):
            if figures.get(key):
                figures[f"{key}_1k"] = 1000 / figures[key]
        return figures


FIGURES = [
    ("client_credentials grants/s, 200 clients", "cc", "grants/s"),
    ("refresh grants/s (rotation), 200 clients", "refresh", "grants/s"),
    ("client_credentials grants/s with DPoP proofs, 200 clients", "cc_dpop", "grants/s"),
    ("token introspections/s (RFC 7662), 200 clients", "introspect", "req/s"),
    ("UserInfo requests/s (OIDC Core §5.3), 200 clients", "userinfo", "req/s"),
    ("JWKS requests/s, 200 clients", "jwks", "req/s"),
    ("discovery requests/s, 200 clients", "discovery", "req/s"),
    ("client_credentials grants per CPU-second (1 process)", "cc_cpu", "grants/CPU-s"),
    ("refresh grants per CPU-second (1 process)", "refresh_cpu", "grants/CPU-s"),
    ("client_credentials with DPoP per CPU-second (1 process)", "cc_dpop_cpu", "grants/CPU-s"),
    ("CPU-seconds per 1,000 client_credentials grants", "cc_cpu_1k", "CPU-s"),
    ("CPU-seconds per 1,000 refresh grants", "refresh_cpu_1k", "CPU-s"),
    ("CPU-seconds per 1,000 grants with DPoP", "cc_dpop_cpu_1k", "CPU-s"),
    ("introspections per CPU-second (1 process)", "introspect_cpu", "req/CPU-s"),
    ("UserInfo requests per CPU-second (1 process)", "userinfo_cpu", "req/CPU-s"),
    ("JWKS requests per CPU-second (1 process)", "jwks_cpu", "req/CPU-s"),
    ("discovery requests per CPU-second (1 process)", "discovery_cpu", "req/CPU-s"),
    ("client_credentials p50, 200 clients x 1 grant/s", "cc_p50", "ms"),
    ("client_credentials p99, 200 clients x 1 grant/s", "cc_p99", "ms"),
    ("discovery p99 while grants saturate", "probe_p99", "ms"),
    ("full logins/s (form + code + token, argon2id), 8 at once", "logins", "logins/s"),
    ("full logins per CPU-second (1 process)", "logins_cpu", "logins/CPU-s"),
    ("resident memory (RSS) of the process after the run", "rss", "MiB"),
]


def med(runs: list[dict[str, float]], key: str) -> float | None:
    values = [run[key] for run in runs if key in run]
    return median(values) if values else None


def print_side_by_side(
    ours: list[dict[str, float]], peers: list[tuple[str, list[dict[str, float]]]]
) -> None:
    print_comparison(
        "sso_gateway beside oidc-provider and Keycloak",
        [
            (name, med(ours, key), [med(runs, key) for _, runs in peers], unit)
            for name, key, unit in FIGURES
        ],
        [name for name, _ in peers],
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per figure and run")
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--no-keycloak", action="store_true", help="leave Keycloak's column out")
    args = parser.parse_args()
    install_peers()
    java = java_for_keycloak()
    skipped = "--no-keycloak" if args.no_keycloak else install_keycloak()
    async with stack() as infra:
        port, peer_port, kc_port = free_port(), free_port(), free_port()
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
            kc_base = f"http://127.0.0.1:{kc_port}/realms/bench"

            async def ours_user_token() -> str:
                (refresh_token,) = await mint_refresh_tokens(settings, first_user, 1)
                return await refreshed_access_token(settings.issuer, auth, refresh_token)

            async def peer_user_token() -> str:
                async with httpx.AsyncClient(timeout=60) as http:
                    minted: str = (await http.post(f"{peer_base}/bench/access-tokens")).json()
                    return minted

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
                user_token=ours_user_token,
            )
            ours_runs: list[dict[str, float]] = []
            peer_runs: list[dict[str, float]] = []
            kc_runs: list[dict[str, float]] = []
            async with contextlib.AsyncExitStack() as peers:
                peer_pid = await peers.enter_async_context(
                    running(
                        ["node", "oidc_provider.mjs"],
                        peer_env,
                        f"{peer_base}/.well-known/openid-configuration",
                        cwd=PEERS,
                    )
                )
                sides = [
                    (ours, ours_runs),
                    (
                        Side(
                            peer_base,
                            auth,
                            mint_peer,
                            "/jwks",
                            "urn:vigie:bench-api",
                            peer_pid,
                            introspect_path="/token/introspection",
                            userinfo_path="/me",
                            user_token=peer_user_token,
                        ),
                        peer_runs,
                    ),
                ]
                keycloak: Side | None = None
                if skipped is None and java is not None:
                    keycloak_realm(secret, users)
                    kc_pid = await peers.enter_async_context(running_keycloak(java, kc_port))
                    keycloak = Side(
                        f"http://127.0.0.1:{kc_port}",
                        auth,
                        lambda n: keycloak_refresh_tokens(kc_base, secret, "bench0", n),
                        f"{KEYCLOAK_OIDC}/certs",
                        client_id,
                        kc_pid,
                        token_path=f"{KEYCLOAK_OIDC}/token",
                        prefix="/realms/bench",
                        introspect_path=f"{KEYCLOAK_OIDC}/token/introspect",
                        userinfo_path=f"{KEYCLOAK_OIDC}/userinfo",
                        user_token=lambda: keycloak_user_token(kc_base, secret, "bench0"),
                    )
                    sides.append((keycloak, kc_runs))
                names = ("ours", "oidc-provider", "Keycloak")[: len(sides)]
                named_sides = [(name, side) for name, (side, _) in zip(names, sides, strict=True)]
                for side, _ in sides:
                    await side.warm_up()
                for _ in range(args.runs):
                    for side, runs in sides:
                        runs.append(await side.measure(args.seconds))
                ours_runs[-1]["logins"], ours_runs[-1]["logins_cpu"] = await timed_logins(
                    lambda name: login(settings.issuer, client_id, secret, name), ours_pid, users
                )
                if keycloak is not None:
                    # Keycloak's login pages are its theme's HTML, read here by pattern: if a
                    # release changes them, the other figures still stand.
                    try:
                        kc_runs[-1]["logins"], kc_runs[-1]["logins_cpu"] = await timed_logins(
                            lambda name: keycloak_login(kc_base, secret, name),
                            keycloak.pid,
                            users,
                        )
                    except (AssertionError, KeyError, httpx.HTTPError) as failed:
                        print(f"Keycloak logins not measured: {failed!r}"[:300])
    if skipped is not None:
        print(f"\nKeycloak skipped: {skipped}")
    for name, side in named_sides:
        if side.dpop_unbound is not None:
            print(f"{name}: no DPoP figures ({side.dpop_unbound})")
        if side.introspect_unmeasured is not None:
            print(f"{name}: no introspection figures ({side.introspect_unmeasured})")
        if side.userinfo_unmeasured is not None:
            print(f"{name}: no UserInfo figures ({side.userinfo_unmeasured})")
    print_side_by_side(
        ours_runs,
        [
            (PEER + " (no login UI: its login figures are left out)", peer_runs),
            (KEYCLOAK if skipped is None else f"Keycloak (skipped: {skipped})", kc_runs),
        ],
    )


if __name__ == "__main__":
    run(main())
