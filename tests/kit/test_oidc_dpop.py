"""DPoP-bound access tokens at a resource server (RFC 9449 §7): the kit's ``bearer``
dependency and ``admit``, as dpo_requests, audit_log and the gateway's admin API use them."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Depends, FastAPI

from tests.kit.test_dpop import ProofKey
from tests.kit.test_oidc import FakeIssuer
from vigie_shared.kit.http import install_problem_handlers
from vigie_shared.kit.oidc import Principal, bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "http://rs.test"
URL = f"{BASE}/dpo"


def _app(issuer: FakeIssuer, public_url: str | None = None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    verifier = issuer.verifier()
    verifier.public_url = public_url
    app.state.verifier = verifier
    dpo_only = bearer(lambda request: request.app.state.verifier, "dpo")

    @app.get("/dpo")
    async def endpoint(principal: Principal = Depends(dpo_only)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject}

    return app


async def _get(app: FastAPI, headers: dict[str, str], base: str = BASE) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
        return await http.get("/dpo", headers=headers)


def _bound(issuer: FakeIssuer, holder: ProofKey) -> str:
    return issuer.token(roles=["dpo"], cnf={"jkt": holder.jkt})


async def test_a_bound_token_with_its_proof_is_admitted() -> None:
    issuer, holder = FakeIssuer(), ProofKey()
    token = _bound(issuer, holder)
    ok = await _get(
        _app(issuer),
        {"Authorization": f"DPoP {token}", "DPoP": holder.proof("GET", URL, token=token)},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"sub": "u-1"}


async def test_a_bearer_token_without_cnf_keeps_working() -> None:
    issuer = FakeIssuer()
    ok = await _get(_app(issuer), {"Authorization": f"Bearer {issuer.token(roles=['dpo'])}"})
    assert ok.status_code == 200


async def test_behind_a_proxy_htu_is_the_public_url() -> None:
    issuer, holder = FakeIssuer(), ProofKey()
    token = _bound(issuer, holder)
    app = _app(issuer, public_url="https://rs.example.org")
    public = holder.proof("GET", "https://rs.example.org/dpo", token=token)
    internal = holder.proof("GET", "http://internal:8080/dpo", token=token)
    ok = await _get(app, {"Authorization": f"DPoP {token}", "DPoP": public}, "http://internal:8080")
    refused = await _get(
        app, {"Authorization": f"DPoP {token}", "DPoP": internal}, "http://internal:8080"
    )
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 401


async def test_a_bound_token_as_bearer_is_refused_with_a_dpop_challenge() -> None:
    issuer, holder = FakeIssuer(), ProofKey()
    token = _bound(issuer, holder)
    downgraded = await _get(
        _app(issuer),
        {"Authorization": f"Bearer {token}", "DPoP": holder.proof("GET", URL, token=token)},
    )
    assert downgraded.status_code == 401
    challenge = downgraded.headers["www-authenticate"]
    assert challenge.startswith('DPoP error="invalid_token"')
    assert 'algs="ES256 PS256 RS256 EdDSA"' in challenge


async def test_an_unbound_token_under_the_dpop_scheme_is_refused() -> None:
    issuer, holder = FakeIssuer(), ProofKey()
    token = issuer.token(roles=["dpo"])
    refused = await _get(
        _app(issuer),
        {"Authorization": f"DPoP {token}", "DPoP": holder.proof("GET", URL, token=token)},
    )
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


@pytest.mark.parametrize(
    "case",
    ["no-proof", "other-key", "replayed", "wrong-htu", "wrong-htm", "no-ath", "other-ath"],
)
async def test_a_bound_token_without_a_fitting_proof_is_refused(case: str) -> None:
    issuer, holder, other = FakeIssuer(), ProofKey(), ProofKey()
    token = _bound(issuer, holder)
    app = _app(issuer)
    proofs = {
        "no-proof": None,
        "other-key": other.proof("GET", URL, token=token),
        "replayed": holder.proof("GET", URL, token=token),
        "wrong-htu": holder.proof("GET", f"{BASE}/other", token=token),
        "wrong-htm": holder.proof("POST", URL, token=token),
        "no-ath": holder.proof("GET", URL),
        "other-ath": holder.proof("GET", URL, token=issuer.token(roles=["dpo"])),
    }
    proof = proofs[case]
    headers = {"Authorization": f"DPoP {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    if case == "replayed":
        assert (await _get(app, headers)).status_code == 200
    refused = await _get(app, headers)
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith('DPoP error="invalid_dpop_proof"'), challenge
    assert refused.headers["content-type"] == "application/problem+json"
