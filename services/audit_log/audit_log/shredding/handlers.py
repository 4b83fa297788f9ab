"""audit_log as a data system (docs/architecture.md: audit entries are personal data): the DPO's
export task returns the subject's entries (GDPR Art. 15), each with its offline proof
(c2sp.org/tlog-proof) so the person can check, without the log, that the copy is what the log
holds; the erase task crypto-shreds them (GDPR Art. 17) while the entries stay in the tree, so
every proof still verifies."""

from __future__ import annotations

import base64
from typing import Any

from audit_log.context import AuditLog
from vigie_shared.events import DpoTaskRequested, TaskAction
from vigie_shared.kit.data_system import DataSystem
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime


def data_system(audit: AuditLog) -> DataSystem:
    system = DataSystem(
        "audit_log", description="Audit entries about the subject (crypto-shredded on erasure)."
    )

    @system.action(TaskAction.EXPORT)
    async def export(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        entries = await audit.query.export(conn, task.subject_id)
        proofs = await audit.offline_proofs.prove(
            conn, [(entry.index, base64.b64decode(entry.leaf)) for entry in entries]
        )
        keys = await audit.checkpoints.verifier_keys(conn) if entries else []
        return {
            "entries": [
                {**entry.model_dump(mode="json", exclude={"leaf"}), "tlog_proof": proof.encode()}
                for entry, proof in zip(entries, proofs, strict=True)
            ],
            # Where to check the proofs: the log's key as it names itself. A careful reader
            # pins it from elsewhere (GET /checkpoints/keys) rather than from this package.
            "log_verifier_keys": keys,
        }

    @system.action(TaskAction.ERASE)
    async def erase(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        # Serialised with ingestion (same lock): a batch in flight either commits before the
        # keys are destroyed, or sees the erasure and seals its older entries unreadable.
        await audit.tree.lock_writer(conn)
        shredded = await audit.keys.erase(
            conn, task.subject_id, f"erasure request {task.request_id}"
        )
        return {"shredded_keys": shredded}

    return system


def register(runtime: Runtime, audit: AuditLog) -> None:
    data_system(audit).register(runtime)
