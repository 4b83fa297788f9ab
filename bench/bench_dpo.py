"""dpo_requests: the DPO dashboard at 100,000 requests, and an access request from verification
to completed across three data systems on the real broker.

(a) ``load_dashboard`` (every figure of the dashboard, aggregated by PostgreSQL) and the two
charts, on a register of ``--requests`` synthetic requests (two years, 7 % open, two tasks and
a tenth of a clock suspension per request, generated server-side with ``generate_series``),
beside one sequential scan of the same table measured in the same run (``count(*)``: the floor
for any figure over every request); then ``GET /dashboard`` over HTTP on the real app (uvicorn),
the DPO's HTML dashboard page (``/pages/dpo``, both charts inline), the gauges' refresh and the
register export, streamed (in process and over HTTP, with the file's size and the memory
Python held while producing it). Targets: dashboard < 300 ms, register of 100,000 requests < 1 s
in constant memory.

(b) An access request verified by the DPO (``POST /requests/{id}/verify``) until it is
``completed``: fan-out through the outbox to three data systems (each its own runtime and
consumer group, answering the export), their results back, the package built. Median and p90
over ``--e2e`` requests.

Run: ``python bench/bench_dpo.py [--requests N] [--runs R] [--e2e K]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import uvicorn
from _stack import Row, Stack, median, percentile, print_table, run, stack
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from dpo_requests.app import create_app
from dpo_requests.config import Settings
from dpo_requests.dashboard.charts import status_chart, volume_chart
from dpo_requests.dashboard.metrics import dpo_metrics
from dpo_requests.dashboard.stats import load_dashboard
from dpo_requests.deadlines import paris_date
from dpo_requests.register.export import register_export
from dpo_requests.service import SERVICE
from dpo_requests.web.session import SESSION_COOKIE, open_session
from vigie_shared import topics
from vigie_shared.events import DpoTaskRequested, TaskAction
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.data_system import DataSystem
from vigie_shared.kit.db import Conn
from vigie_shared.kit.kafka import ensure_topics
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.oidc import TokenVerifier
from vigie_shared.kit.runtime import Runtime, ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

ISSUER = "http://sso.bench"

# Two years of requests, 7 % still open; closing times 3-45 days; every request has a task at
# two systems (completed when the request is); one in ten had its clock stopped.
SEED_SQL = """
SELECT setseed(0.42);
INSERT INTO requests (id, subject_id, requester, request_type, channel, received_at, due_on,
                      status, extended_on, extension_reason, verified_at, closed_at)
SELECT 'b-' || g, 'u-' || (g % 40000), 'u' || g || '@bench.example.org',
       (ARRAY['access', 'erasure', 'rectification', 'objection', 'portability',
              'restriction'])[1 + g % 6],
       (ARRAY['online', 'online', 'online', 'email', 'post'])[1 + g % 5],
       received_at,
       CASE WHEN open AND g % 13 = 0 THEN NULL
            ELSE (received_at AT TIME ZONE 'Europe/Paris')::date
                 + CASE WHEN g % 17 = 0 THEN interval '3 months' ELSE interval '1 month' END
       END,
       CASE WHEN NOT open THEN (ARRAY['completed', 'completed', 'completed', 'completed',
                                      'completed', 'completed', 'refused', 'withdrawn'])[1 + g % 8]
            WHEN g % 13 = 0 THEN 'identity_pending'
            WHEN g % 3 = 0 THEN 'received'
            ELSE 'in_progress' END,
       CASE WHEN g % 17 = 0 THEN (received_at AT TIME ZONE 'Europe/Paris')::date + 15 END,
       CASE WHEN g % 17 = 0 THEN 'volume' END,
       received_at + interval '2 days',
       CASE WHEN NOT open THEN received_at + (3 + random() * 42) * interval '1 day' END
FROM (SELECT g, now() - random() * interval '730 days' AS received_at, random() < 0.07 AS open
      FROM generate_series(1, $1::int) g) s;
INSERT INTO tasks (id, request_id, system, action, status, manual, requested_at, finished_at)
SELECT 't-' || r.id || '-' || sys, r.id, sys, 'export',
       CASE WHEN r.status = 'completed' THEN 'completed'
            WHEN sys = 'archives' THEN 'pending' ELSE 'timed_out' END,
       sys = 'archives', r.verified_at, r.closed_at
FROM requests r CROSS JOIN (VALUES ('moodle'), ('archives')) v(sys)
WHERE r.status IN ('completed', 'in_progress');
INSERT INTO request_suspensions (request_id, asked_at, answered_at, what)
SELECT id, received_at + interval '1 day',
       CASE WHEN status <> 'identity_pending' THEN received_at + interval '6 days' END, 'id'
FROM requests WHERE status = 'identity_pending' OR right(id, 1) = '7';
"""


class Issuer:
    """An ES256 key for the bench's tokens, served as the OIDC issuer's JWKS (in process)."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "bench"}, private=True)

    def verifier(self) -> TokenVerifier:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/.well-known/openid-configuration":
                return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))

        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        return TokenVerifier(ISSUER, "dpo-requests", http=http)

    def headers(self, sub: str, role: str) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": "dpo-requests",
            "sub": sub,
            "iat": now,
            "exp": now + 3600,
            "roles": [role],
        }
        token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "bench"}, claims, self.key)
        return {"Authorization": f"Bearer {token}"}


async def timed(action: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    """Milliseconds of each run, after one warm-up run."""
    await action()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await action()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def peak_memory(action: Callable[[], Awaitable[int]]) -> tuple[int, int]:
    """What ``action`` returns, and the most memory Python held meanwhile beyond what it held
    before (tracemalloc, which slows the run down: never timed)."""
    tracemalloc.start()
    try:
        result = await action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# A DPO downloads the register with a browser, a process of its own: this client, run by the
# same interpreter, times each download after a warm-up one and prints the milliseconds as JSON,
# so that reading the 32 MB does not share the server's event loop and core as an in-process
# client does.
_DOWNLOADER = """
import json, sys, time, httpx
url, authorization, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = []
with httpx.Client(headers={"Authorization": authorization}, timeout=60) as http:
    for i in range(runs + 1):
        start = time.perf_counter()
        size = 0
        with http.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                size += len(chunk)
        if i:
            out.append((time.perf_counter() - start) * 1000)
print(json.dumps({"ms": out, "bytes": size}))
"""


async def download_elsewhere(url: str, authorization: str, runs: int) -> list[float]:
    """Milliseconds of each download by a client in its own process, after one warm-up."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _DOWNLOADER,
        url,
        authorization,
        str(runs),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the download client exited {child.returncode}")
    ms: list[float] = json.loads(out)["ms"]
    return ms


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(settings: Settings, schema: str, issuer: Issuer) -> AsyncIterator[str]:
    """The real dpo_requests app behind uvicorn on a free port."""
    app = create_app(settings, token_verifier=issuer.verifier(), schema=schema)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("dpo_requests did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def dashboard_figures(s: Stack, requests: int, runs: int) -> list[Row]:
    schema = "dpo_bench"
    await migrate(s.database_url, schema, SERVICE.migrations)
    conn = await db.connect(s.database_url, schema)
    try:
        start = time.perf_counter()
        await conn.execute(SEED_SQL.replace("$1::int", str(int(requests))))
        await conn.execute("VACUUM ANALYZE")
        print(f"seeded {requests} requests in {time.perf_counter() - start:.1f} s")
        today = paris_date(utcnow())
        scan = await timed(lambda: conn.fetchval("SELECT count(*) FROM requests"), runs)
        load = await timed(lambda: load_dashboard(conn, today=today), runs)
        stats = await load_dashboard(conn, today=today)

        async def render() -> None:
            volume_chart(stats, lang="fr")
            status_chart(stats, lang="fr")

        charts = await timed(render, runs)

        async def load_and_render() -> None:
            fresh = await load_dashboard(conn, today=today)
            volume_chart(fresh, lang="fr")
            status_chart(fresh, lang="fr")

        both = await timed(load_and_render, runs)
        gauges = await timed(lambda: dpo_metrics.refresh(conn, today=today), runs)

        async def export() -> int:
            """The register as the DPO downloads it, streamed: its size in bytes."""
            size = 0
            async for chunk in register_export.csv(conn, today=today):
                size += len(chunk)
            return size

        csv_runs = await timed(export, max(3, runs // 3))
        csv_bytes, csv_peak = await peak_memory(export)
    finally:
        await conn.close()
    settings = Settings(database_url=s.database_url, kafka_bootstrap=s.bootstrap, env="development")
    issuer = Issuer()
    async with serving(settings, schema, issuer) as base, httpx.AsyncClient(base_url=base) as http:
        headers = issuer.headers("dpo-bench", "dpo")

        async def get() -> None:
            response = await http.get("/dashboard", headers=headers)
            response.raise_for_status()

        over_http = await timed(get, runs)
        # The page a DPO opens: the session a login through the SSO would have opened.
        pages_conn = await db.connect(s.database_url, schema)
        try:
            token, _ = await open_session(
                pages_conn,
                settings,
                subject="dpo-bench",
                name="DPO",
                email=None,
                roles=frozenset({"dpo"}),
                id_token=None,
                sid=None,
            )
        finally:
            await pages_conn.close()
        browser = httpx.AsyncClient(base_url=base, cookies={SESSION_COOKIE: token})

        async def page() -> None:
            response = await browser.get("/pages/dpo")
            response.raise_for_status()
            if "<svg" not in response.text:
                raise RuntimeError("the dashboard page has no chart")

        async with browser:
            html = await timed(page, runs)

        async def download() -> None:
            async with http.stream("GET", "/register.csv", headers=headers) as response:
                response.raise_for_status()
                async for _ in response.aiter_raw():
                    pass

        csv_over_http = await timed(download, max(3, runs // 3))
        csv_elsewhere = await download_elsewhere(
            f"{base}/register.csv", headers["Authorization"], max(3, runs // 3)
        )
    scan_ms = median(scan)
    k = f"{requests // 1000}k"
    return [
        (f"dashboard: load_dashboard at {k} requests (median)", median(load), scan_ms, "ms"),
        (f"dashboard: load + both charts at {k} (median)", median(both), scan_ms, "ms"),
        (f"dashboard: load + both charts at {k} (p90)", percentile(both, 90), scan_ms, "ms"),
        ("dashboard: both charts rendered (pygal, median)", median(charts), None, "ms"),
        (f"dashboard: GET /dashboard over HTTP at {k} (median)", median(over_http), None, "ms"),
        (f"dashboard: HTML page over HTTP at {k} (median)", median(html), None, "ms"),
        (f"metrics: gauges refresh at {k} (median)", median(gauges), scan_ms, "ms"),
        (f"register: CSV of {k} requests, streamed (median)", median(csv_runs), None, "ms"),
        (
            f"register: GET /register.csv over HTTP at {k}, client in its own process (median)",
            median(csv_elsewhere),
            None,
            "ms",
        ),
        (
            f"register: GET /register.csv over HTTP at {k}, client in the server's process",
            median(csv_over_http),
            None,
            "ms",
        ),
        (f"register: CSV file of {k} requests", csv_bytes / 1e6, None, "MB"),
        ("register: CSV export peak memory (tracemalloc)", csv_peak / 1e6, None, "MB"),
    ]


def data_system(name: str) -> DataSystem:
    system = DataSystem(name, description=f"bench system {name}")

    @system.action(TaskAction.EXPORT)
    async def export(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return {"system": name, "subject": task.subject_id, "rows": [{"course": "MAT101"}]}

    return system


async def end_to_end(s: Stack, count: int) -> list[Row]:
    schema = f"dpo_e2e_{uuid.uuid4().hex[:6]}"
    await migrate(s.database_url, schema, SERVICE.migrations)
    settings = Settings(database_url=s.database_url, kafka_bootstrap=s.bootstrap, env="development")
    issuer = Issuer()
    names = ("moodle", "exam_office", "library")
    runtimes = []
    for name in names:
        runtime = Runtime(
            ServiceSpec(
                name=name,
                schema=f"{schema}_{name}",
                default_port=0,
                migrations=None,
                module="none",
                settings_factory=ServiceSettings,
            ),
            ServiceSettings(database_url=s.database_url, kafka_bootstrap=s.bootstrap),
        )
        data_system(name).register(runtime)
        runtimes.append(runtime)
    durations: list[float] = []
    answered: list[float] = []
    async with AsyncExitStack() as exits:
        base = await exits.enter_async_context(serving(settings, schema, issuer))
        await asyncio.gather(*(r.start() for r in runtimes))
        for runtime in runtimes:
            exits.push_async_callback(runtime.stop)
        http = await exits.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30))
        dpo = issuer.headers("dpo-bench", "dpo")
        pool = await db.create_pool(s.database_url, schema, max_size=2)
        exits.push_async_callback(pool.close)

        async def systems() -> set[str]:
            listed = await http.get("/data-systems", headers=dpo)
            return {item["name"] for item in listed.json()}

        deadline = time.monotonic() + 60
        while not set(names) <= await systems():
            if time.monotonic() > deadline:
                raise RuntimeError("the data systems never announced themselves")
            await asyncio.sleep(0.1)
        for i in range(count):
            learner = f"u-e2e-{i}"
            created = await http.post(
                "/requests",
                json={"request_type": "access"},
                headers=issuer.headers(learner, "learner"),
            )
            created.raise_for_status()
            request_id = created.json()["id"]
            start = time.perf_counter()
            verified = await http.post(
                f"/requests/{request_id}/verify", json={"method": "sso"}, headers=dpo
            )
            verified.raise_for_status()
            answered.append((time.perf_counter() - start) * 1000)
            deadline = time.monotonic() + 60
            while await pool.fetchval("SELECT status FROM requests WHERE id = $1", request_id) != (
                "completed"
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{request_id} did not complete")
                await asyncio.sleep(0.005)
            durations.append((time.perf_counter() - start) * 1000)
    return [
        ("dpo e2e: verify -> completed, 3 systems (median)", median(durations), None, "ms"),
        ("dpo e2e: verify -> completed, 3 systems (p90)", percentile(durations, 90), None, "ms"),
        ("dpo e2e: POST verify answered, fan-out stored (median)", median(answered), None, "ms"),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--e2e", type=int, default=10)
    args = parser.parse_args()
    async with stack() as s:
        await ensure_topics(s.bootstrap, topics.ALL)
        rows = await dashboard_figures(s, args.requests, args.runs)
        rows += await end_to_end(s, args.e2e)
    print_table(
        "dpo_requests: dashboard (target < 300 ms at 100k) and verification to completion",
        rows,
        reference="one sequential scan, SELECT count(*) FROM requests",
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        run(main())
