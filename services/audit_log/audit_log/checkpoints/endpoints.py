from __future__ import annotations

import base64

from fastapi import APIRouter

from audit_log.checkpoints.schemas import CheckpointPublic, VerifierKeys
from audit_log.checkpoints.service import SignedCheckpoint
from audit_log.deps import Audit, AuditedReader, DbConn

router = APIRouter(prefix="/checkpoints", tags=["checkpoints"])


def _public(checkpoint: SignedCheckpoint) -> CheckpointPublic:
    return CheckpointPublic(
        tree_size=checkpoint.tree_size,
        root_hash=base64.b64encode(checkpoint.root_hash).decode(),
        issued_at=checkpoint.issued_at,
        note=checkpoint.note,
        verifier_key=checkpoint.verifier_key,
    )


@router.get("/latest", response_model=CheckpointPublic, summary="The latest signed checkpoint")
async def latest(_reader: AuditedReader, audit: Audit, conn: DbConn) -> CheckpointPublic:
    checkpoint = await audit.checkpoints.latest(conn)
    if checkpoint is None:
        checkpoint = await audit.checkpoints.issue(conn)
    assert checkpoint is not None
    return _public(checkpoint)


@router.post("", response_model=CheckpointPublic, status_code=201, summary="Sign one now")
async def issue(_reader: AuditedReader, audit: Audit, conn: DbConn) -> CheckpointPublic:
    checkpoint = await audit.checkpoints.issue(conn)
    assert checkpoint is not None
    return _public(checkpoint)


@router.get("/keys", response_model=VerifierKeys, summary="Public keys (no token needed)")
async def keys(audit: Audit, conn: DbConn) -> VerifierKeys:
    return VerifierKeys(
        origin=audit.checkpoints.origin, keys=await audit.checkpoints.verifier_keys(conn)
    )
