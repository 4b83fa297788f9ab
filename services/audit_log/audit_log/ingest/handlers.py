"""The audit log consumes every topic of the catalog (ARCHITECTURE.md, Events)."""

from __future__ import annotations

from audit_log.ingest.service import ingest
from vigie_shared import topics
from vigie_shared.kit.runtime import Runtime


def register(runtime: Runtime) -> None:
    consumer = runtime.consumer("ingest", *topics.ALL)
    consumer.handle_all(ingest.record)
