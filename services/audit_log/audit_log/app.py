"""audit_log: the append-only, tamper-evident record of access suspensions and data events."""

from __future__ import annotations

import logging

import httpx
from fastapi import FastAPI

from audit_log import metrics
from audit_log.checkpoints.endpoints import router as checkpoints_router
from audit_log.config import Settings
from audit_log.context import AuditLog
from audit_log.ingest.handlers import ingest_consumer
from audit_log.proofs.endpoints import router as proofs_router
from audit_log.query.endpoints import router as query_router
from audit_log.reports.endpoints import router as reports_router
from audit_log.service import SERVICE
from audit_log.shredding import handlers as shredding_handlers
from audit_log.tiles.endpoints import router as tiles_router
from vigie_shared import topics
from vigie_shared.kit import api_docs, deny_list
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.oidc import TokenVerifier
from vigie_shared.kit.runtime import Runtime
from vigie_shared.kit.telemetry import FASTAPI_TELEMETRY

log = logging.getLogger(__name__)


async def _retention(runtime: Runtime, audit: AuditLog) -> None:
    """Shred the data keys of entries past their retention (GDPR Art. 5(1)(e))."""
    s = audit.settings
    async with runtime.pool.acquire() as conn, conn.transaction():
        # As an erasure does: no batch in flight may be sealing with a key we destroy.
        await audit.tree.lock_writer(conn)
        shredded = await audit.keys.sweep(
            conn, utcnow(), s.retention_days, s.retention_days_by_topic
        )
    if shredded:
        log.info("retention: %d data keys shredded", shredded)


async def _checkpoint(runtime: Runtime, audit: AuditLog) -> None:
    """Sign a checkpoint if the tree grew, then have the configured witnesses cosign it."""
    await audit.checkpoints.publish(runtime.pool)
    if audit.settings.witnesses:
        async with runtime.pool.acquire() as conn, httpx.AsyncClient(timeout=10) as http:
            await audit.witnesses.submit(conn, http)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime(SERVICE, settings)
    audit = AuditLog.build(settings)
    ingest = ingest_consumer(runtime, audit.ingest, max_attempts=settings.consumer_max_attempts)
    ingest.subscribe(
        runtime.broker,
        *topics.ALL,
        max_records=settings.ingest_batch_size,
        session_timeout_ms=settings.kafka_session_timeout_ms,
    )
    runtime.watch(ingest.progress)
    shredding_handlers.register(runtime, audit)

    async def adopt_legacy(conn: Conn) -> None:
        await audit.ingest.adopt_legacy(conn)

    runtime.on_start(adopt_legacy)

    runtime.every(
        settings.checkpoint_interval_seconds,
        "checkpoints",
        lambda: _checkpoint(runtime, audit),
    )
    runtime.every(settings.retention_sweep_seconds, "retention", lambda: _retention(runtime, audit))

    app = FastAPI(
        title="Vigie audit log",
        version="0.2.0",
        lifespan=runtime.lifespan,
        telemetry=FASTAPI_TELEMETRY,
        **api_docs.fastapi_options(settings),
    )
    runtime.install(app)
    api_docs.install(app, settings)
    metrics.install(app)
    app.state.audit = audit
    app.state.ingest = ingest
    app.state.deny_list = deny_list.subscribe(runtime)
    app.state.token_verifier = TokenVerifier(issuer=settings.issuer, audience=settings.audience)
    app.include_router(query_router)
    app.include_router(proofs_router)
    app.include_router(checkpoints_router)
    app.include_router(reports_router)
    app.include_router(tiles_router)
    return app
