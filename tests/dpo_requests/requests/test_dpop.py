"""The requests API admits a DPoP-bound access token with its proof (RFC 9449 §7), and only
with it: a resource server's side of sender-constrained tokens, over HTTP."""

from __future__ import annotations

import pytest

from tests.dpo_requests.support import Dpo
from tests.kit.test_dpop import ProofKey

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

URL = "http://dpo.test/requests"


async def test_a_learner_submits_a_request_with_a_dpop_bound_token(dpo: Dpo) -> None:
    holder, thief = ProofKey(), ProofKey()
    token = dpo.issuer.token("u-dpop", "learner", cnf={"jkt": holder.jkt})
    body = {"request_type": "access", "message": "Tout"}
    created = await dpo.http.post(
        "/requests",
        json=body,
        headers={"Authorization": f"DPoP {token}", "DPoP": holder.proof("POST", URL, token=token)},
    )
    as_bearer = await dpo.http.post(
        "/requests", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    stolen = await dpo.http.post(
        "/requests",
        json=body,
        headers={"Authorization": f"DPoP {token}", "DPoP": thief.proof("POST", URL, token=token)},
    )
    assert created.status_code == 201, created.text
    assert created.json()["subject_id"] == "u-dpop"
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    assert stolen.status_code == 401
    assert stolen.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
