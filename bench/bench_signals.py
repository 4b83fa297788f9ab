"""Shared Signals latency: from a billing suspension event sent on Kafka to the RISC
``account-disabled`` SET in a receiver's hands, by push (RFC 8935) and by poll (RFC 8936).

The gateway runs as one process (``python -m sso_gateway``, its default delivery settings) on
the embedded stack's PostgreSQL and broker. A receiver, registered as a client with the client
credentials grant and ``ssf.manage ssf.read``, creates a push stream (its endpoint on loopback,
served in this process) and a poll stream (long-polled here, acknowledging as it goes). Overdue
reminders past their grace (``vigie.billing.debt.reminded``, as the accounting system sends
them) are published one learner each, at ``--rate`` per second; each SET's signature is checked
with joserfc against the published JWKS before its arrival counts. The latency of one event is
from just before its send to the arrival of the SET that names its learner.

Run: ``python bench/bench_signals.py [--events N] [--rate R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from _stack import percentile, print_table, run, stack
from bench_sso import running
from fastapi import FastAPI, Request, Response
from joserfc import jwt
from joserfc.jwk import KeySet

from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import client
from sso_gateway.config import Settings
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import user
from vigie_shared.events import DebtReminded, PaymentChannel, new_event
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.kafka import Producer

ACCOUNT_DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
SOURCE = "/accounting/bench"
GRACE_DAYS = 8


class Arrivals:
    """When each learner's account-disabled reached each delivery method."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self.at: dict[str, dict[str, float]] = {"push": {}, "poll": {}}

    def record(self, method: str, token: str) -> None:
        arrived = time.perf_counter()
        claims = jwt.decode(token, self.keys, algorithms=["ES256", "RS256"]).claims
        if ACCOUNT_DISABLED in claims["events"]:
            self.at[method].setdefault(claims["sub_id"]["sub"], arrived)


def push_receiver(arrivals: Arrivals) -> FastAPI:
    app = FastAPI()

    @app.post("/events")
    async def events(request: Request) -> Response:
        arrivals.record("push", (await request.body()).decode())
        return Response(status_code=202)

    return app


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        await task


async def setup(settings: Settings, learners: int) -> tuple[str, str, list[str]]:
    conn = await db.connect(settings.database_url, "sso")
    try:
        created = await client.add(
            conn,
            ClientCreate(
                client_id="bench-receiver",
                name="Bench receiver",
                grant_types=["client_credentials"],
                scopes=["ssf.manage", "ssf.read"],
                training_platform=False,
            ),
            secret_key=settings.secret_key,
        )
        ids = []
        for i in range(learners):
            account = await user.create(
                conn,
                UserCreate(
                    username=f"learner{i}",
                    email=f"learner{i}@example.org",
                    display_name="Learner",
                    password=f"bench password {uuid.uuid4().hex}",
                ),
            )
            ids.append(account.id)
    finally:
        await conn.close()
    assert created.client_secret is not None
    return created.client_id, created.client_secret, ids


async def poller(http: httpx.AsyncClient, url: str, arrivals: Arrivals) -> None:
    """Long polls (RFC 8936 §2.4), each acknowledging what the previous one brought."""
    acks: list[str] = []
    while True:
        answer = (await http.post(url, json={"ack": acks, "maxEvents": 100})).json()
        acks = list(answer["sets"])
        for token in answer["sets"].values():
            arrivals.record("poll", token)


def reminder(learner_id: str) -> Any:
    reminded_at = utcnow() - timedelta(days=GRACE_DAYS + 1)
    data = DebtReminded(
        debt_id=f"bench-{uuid.uuid4().hex[:8]}",
        learner_id=learner_id,
        channel=PaymentChannel.CARD,
        amount=Decimal("10.00"),
        reminded_at=reminded_at,
        grace_days=GRACE_DAYS,
    )
    return encode(new_event(data, subject=learner_id, source=SOURCE, time=reminded_at))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=60, help="suspensions sent")
    parser.add_argument("--rate", type=float, default=10.0, help="suspensions per second")
    args = parser.parse_args()
    async with stack() as infra:
        port, receiver_port = free_port(), free_port()
        issuer = f"http://127.0.0.1:{port}"
        settings = Settings(
            database_url=infra.database_url,
            kafka_bootstrap=infra.bootstrap,
            http_port=port,
            issuer=issuer,
        )
        env = {
            "VIGIE_DATABASE_URL": settings.database_url,
            "VIGIE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "VIGIE_HTTP_PORT": str(port),
            "VIGIE_ISSUER": issuer,
            "VIGIE_LOG_LEVEL": "WARNING",
        }
        async with (
            running([sys.executable, "-m", "sso_gateway"], env, f"{issuer}/readyz"),
            httpx.AsyncClient(base_url=issuer, timeout=60) as http,
        ):
            client_id, secret, learners = await setup(settings, args.events)
            token = (
                await http.post(
                    "/token",
                    data={"grant_type": "client_credentials", "scope": "ssf.manage ssf.read"},
                    auth=httpx.BasicAuth(client_id, secret),
                )
            ).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
            arrivals = Arrivals(KeySet.import_key_set((await http.get("/jwks")).json()))
            streams = {}
            for method, delivery in (
                (
                    "push",
                    {
                        "method": "urn:ietf:rfc:8935",
                        "endpoint_url": f"http://127.0.0.1:{receiver_port}/events",
                    },
                ),
                ("poll", {"method": "urn:ietf:rfc:8936"}),
            ):
                created = await http.post(
                    "/ssf/stream",
                    json={"events_requested": [ACCOUNT_DISABLED], "delivery": delivery},
                )
                created.raise_for_status()
                streams[method] = created.json()
            producer = Producer(infra.bootstrap, client_id="accounting-bench")
            await producer.start()
            sent: dict[str, float] = {}
            async with serving(push_receiver(arrivals), receiver_port):
                polling = asyncio.create_task(
                    poller(http, streams["poll"]["delivery"]["endpoint_url"], arrivals)
                )
                try:
                    for learner_id in learners:
                        message = reminder(learner_id)
                        sent[learner_id] = time.perf_counter()
                        await producer.send_and_wait(message)
                        await asyncio.sleep(1 / args.rate)
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and not all(
                        len(a) == len(learners) for a in arrivals.at.values()
                    ):
                        await asyncio.sleep(0.1)
                finally:
                    polling.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await polling
                    await producer.stop()
    rows = []
    for method in ("push", "poll"):
        latencies = [
            (arrivals.at[method][learner] - at) * 1000
            for learner, at in sent.items()
            if learner in arrivals.at[method]
        ]
        if len(latencies) < len(sent):
            print(f"{method}: {len(sent) - len(latencies)} of {len(sent)} SETs never arrived")
        rows += [
            (
                f"billing suspension -> account-disabled, {method}, p50",
                percentile(latencies, 50),
                None,
                "ms",
            ),
            (
                f"billing suspension -> account-disabled, {method}, p99",
                percentile(latencies, 99),
                None,
                "ms",
            ),
        ]
    print_table(
        f"Shared Signals: {len(sent)} suspensions at {args.rate:g}/s, "
        f"gateway defaults ({os.cpu_count()} vCPUs)",
        rows,
    )


if __name__ == "__main__":
    run(main())
