"""sso_gateway: client-credentials and refresh grants per second, full logins per second
(authorize -> login form -> code -> token), and how fast an unrelated request is answered while
the grants run (Authlib's synchronous server runs off the event loop; a blocked loop would show
here as /healthz latency of the order of the grants').

The gateway runs under uvicorn on a free port with its own event loop; the load comes over real
HTTP. No reference column yet: the side-by-side with panva's oidc-provider is still to do.
Run: ``python bench/bench_sso.py [--grants N] [--logins N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import uvicorn
from _stack import median, percentile, print_table, stack

from sso_gateway.app import create_app
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.config import Settings
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user
from vigie_shared.kit import db
from vigie_shared.kit.embedded import free_port

PASSWORD = "benchmark password 2026"
REDIRECT = "https://bench.example/cb"


def serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.http_port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread


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


async def run_with(concurrency: int, jobs: list[Any]) -> float:
    """Run coroutine factories ``concurrency`` at a time; returns the elapsed seconds."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            await queue.get_nowait()()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def probe(base: str, stop: asyncio.Event, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        while not stop.is_set():
            started = time.perf_counter()
            await http.get("/healthz")
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def login(base: str, client_id: str, secret: str, username: str) -> str:
    """One learner's full login; returns the refresh token."""
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
    async with httpx.AsyncClient(base_url=base) as http:
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
        refresh: str = tokens.json()["refresh_token"]
        return refresh


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grants", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--refreshes", type=int, default=10, help="per login")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    async with stack() as infra:
        port = free_port()
        settings = Settings(
            database_url=infra.database_url,
            kafka_bootstrap=infra.bootstrap,
            http_port=port,
            issuer=f"http://127.0.0.1:{port}",
            login_max_failures_per_ip=10**6,
        )
        server, thread = serve(settings)
        base = settings.issuer
        try:
            client_id, secret, users = await setup(settings, args.logins)
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(base_url=base, limits=limits) as http:

                async def grant() -> None:
                    response = await http.post(
                        "/token",
                        data={"grant_type": "client_credentials"},
                        auth=(client_id, secret),
                    )
                    assert response.status_code == 200, response.text

                await run_with(4, [grant for _ in range(50)])  # warm-up
                stop = asyncio.Event()
                probe_latencies: list[float] = []
                prober = asyncio.create_task(probe(base, stop, probe_latencies))
                grants_s = await run_with(args.concurrency, [grant for _ in range(args.grants)])
                stop.set()
                await prober

                refresh_tokens: list[str] = []

                def login_job(name: str) -> Any:
                    async def job() -> None:
                        refresh_tokens.append(await login(base, client_id, secret, name))

                    return job

                logins_s = await run_with(8, [login_job(name) for name in users])

                def chain(token: str) -> Any:
                    async def job() -> None:
                        current = token
                        for _ in range(args.refreshes):
                            response = await http.post(
                                "/token",
                                data={"grant_type": "refresh_token", "refresh_token": current},
                                auth=(client_id, secret),
                            )
                            assert response.status_code == 200, response.text
                            current = response.json()["refresh_token"]

                    return job

                refresh_s = await run_with(args.concurrency, [chain(t) for t in refresh_tokens])
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    refreshes = len(refresh_tokens) * args.refreshes
    print_table(
        "sso_gateway",
        [
            ("client_credentials grants per second", args.grants / grants_s, None, "grants/s"),
            ("refresh grants per second (rotation)", refreshes / refresh_s, None, "grants/s"),
            (
                "full logins per second (form + code + token)",
                len(users) / logins_s,
                None,
                "logins/s",
            ),
            ("/healthz latency p50 during grants", median(probe_latencies) * 1000, None, "ms"),
            (
                "/healthz latency p99 during grants",
                percentile(probe_latencies, 99) * 1000,
                None,
                "ms",
            ),
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
