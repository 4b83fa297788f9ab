"""The proof endpoints: inclusion and consistency proofs served over HTTP verify against the
signed checkpoints, and a tree size beyond the log is refused as a problem."""

from __future__ import annotations

import base64

import pytest

from audit_log.merkle import leaf_hash, verify_consistency, verify_inclusion
from tests.audit_log.support import Api, LogUnderTest, entry

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_proofs_by_api_check_against_signed_checkpoints(log: LogUnderTest, api: Api) -> None:
    http, issuer = api
    headers = issuer.token("u-dpo", ["dpo"])
    await log.append(*(entry(i) for i in range(5)))
    first = (await http.post("/checkpoints", headers=headers)).json()
    await log.append(*(entry(i) for i in range(9)))
    second = (await http.post("/checkpoints", headers=headers)).json()
    latest = (await http.get("/checkpoints/latest", headers=headers)).json()
    assert latest == second
    keys = (await http.get("/checkpoints/keys")).json()
    assert keys["keys"] == [second["verifier_key"]]

    proof = (
        await http.get(
            "/proofs/inclusion",
            params={"index": 3, "tree_size": first["tree_size"]},
            headers=headers,
        )
    ).json()
    assert leaf_hash(base64.b64decode(proof["leaf"])) == base64.b64decode(proof["leaf_hash"])
    assert verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        3,
        first["tree_size"],
        [base64.b64decode(h) for h in proof["inclusion_path"]],
        base64.b64decode(first["root_hash"]),
    )
    consistency = (
        await http.get(
            "/proofs/consistency",
            params={"first": first["tree_size"], "second": second["tree_size"]},
            headers=headers,
        )
    ).json()
    assert verify_consistency(
        first["tree_size"],
        second["tree_size"],
        base64.b64decode(first["root_hash"]),
        base64.b64decode(second["root_hash"]),
        [base64.b64decode(h) for h in consistency["consistency_path"]],
    )
    too_big = await http.get(
        "/proofs/inclusion", params={"index": 0, "tree_size": 10_000}, headers=headers
    )
    assert too_big.status_code == 400
    assert too_big.headers["content-type"] == "application/problem+json"
