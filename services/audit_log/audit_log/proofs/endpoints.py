from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from audit_log.deps import Audit, AuditedReader, DbConn
from audit_log.proofs.schemas import ConsistencyProof, InclusionProof

router = APIRouter(prefix="/proofs", tags=["proofs"])


@router.get("/inclusion", response_model=InclusionProof, summary="Merkle audit path of an entry")
async def inclusion(
    _reader: AuditedReader,
    audit: Audit,
    conn: DbConn,
    index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> InclusionProof:
    return await audit.proofs.inclusion(conn, index, tree_size)


@router.get(
    "/consistency", response_model=ConsistencyProof, summary="Consistency of two tree sizes"
)
async def consistency(
    _reader: AuditedReader,
    audit: Audit,
    conn: DbConn,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> ConsistencyProof:
    return await audit.proofs.consistency(conn, first, second)
