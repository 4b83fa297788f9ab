"""The DPoP proof check shared by the gateway and the resource servers (RFC 9449 §4.3), and
the resource servers' replay cache (§11.1). ``ProofKey`` is a client's key, making proofs; the
gateway's and the resource servers' tests use it too."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from vigie_shared.kit.dpop import (
    InvalidProof,
    NonceRequired,
    ReplayCache,
    b64url_sha256,
    normalise_htu,
    proof_header,
    verify_proof,
)

URL = "https://sso.example.org/token"


class ProofKey:
    """A client's DPoP key (RFC 9449 §4.2): makes proofs, signed with it, its public half in
    the header; a call's ``header`` and ``claims`` override (``None``: left out)."""

    def __init__(self, key: ECKey | RSAKey | OKPKey | None = None, alg: str = "ES256") -> None:
        self.key = key or ECKey.generate_key("P-256", private=True)
        self.alg = alg

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        head: dict[str, Any] = {
            "typ": "dpop+jwt",
            "alg": self.alg,
            "jwk": self.key.as_dict(private=False),
        }
        head.update(header or {})
        body: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if token is not None:
            body["ath"] = b64url_sha256(token)
        body.update(claims)
        head = {k: v for k, v in head.items() if v is not None}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(head, body, self.key, algorithms=[self.alg])


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}.{sig}"


def _check(proof: str, **overrides: Any) -> Any:
    kwargs: dict[str, Any] = {"method": "POST", "url": URL, "max_age": 300}
    kwargs.update(overrides)
    return verify_proof(proof, **kwargs)


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ECKey.generate_key("P-256", private=True), "ES256"),
        (RSAKey.generate_key(2048, private=True), "PS256"),
        (RSAKey.generate_key(4096, private=True), "RS256"),
        pytest.param(
            OKPKey.generate_key("Ed25519", private=True),
            "EdDSA",
            # RFC 9864 prefers "Ed25519"; RFC 9449 clients still send "EdDSA".
            marks=pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning"),
        ),
    ],
    ids=["ES256", "PS256", "RS256-4096", "EdDSA"],
)
def test_a_proof_of_each_supported_algorithm_gives_its_key_thumbprint(
    key: ECKey | RSAKey | OKPKey, alg: str
) -> None:
    holder = ProofKey(key, alg)
    checked = _check(holder.proof("POST", URL))
    assert checked.jkt == key.thumbprint()


def test_htu_is_compared_without_query_or_fragment_and_normalised() -> None:
    holder = ProofKey()
    assert _check(holder.proof("POST", "HTTPS://SSO.example.org:443/t%6Fken#x"), url=URL + "?a=1")
    assert normalise_htu("http://h.test") == "http://h.test/"
    assert normalise_htu("http://h.test:8080/a%2fb") == "http://h.test:8080/a%2Fb"


@pytest.mark.parametrize(
    ("claims", "overrides", "rule"),
    [
        ({"htu": "https://sso.example.org/other"}, {}, "htu"),
        ({"htu": "https://evil.example.org/token"}, {}, "htu"),
        ({"htm": "GET"}, {}, "htm"),
        # Offsets from the time the test runs, not the time it was collected (a session of
        # minutes would bring a future iat back inside the window).
        ({"iat_offset": -400}, {}, "iat"),
        ({"iat_offset": 400}, {}, "iat"),
        ({"iat": "now"}, {}, "iat"),
        ({"jti": None}, {}, "jti"),
        ({}, {"access_token": "the-token"}, "ath"),
        ({"ath": b64url_sha256("another-token")}, {"access_token": "the-token"}, "ath"),
    ],
    ids=[
        "wrong-path",
        "wrong-host",
        "wrong-htm",
        "stale-iat",
        "future-iat",
        "non-integer-iat",
        "no-jti",
        "missing-ath",
        "wrong-ath",
    ],
)
def test_a_proof_breaking_a_rule_is_refused(
    claims: dict[str, Any], overrides: dict[str, Any], rule: str
) -> None:
    holder = ProofKey()
    claims = dict(claims)
    if "iat_offset" in claims:
        claims["iat"] = int(time.time()) + claims.pop("iat_offset")
    with pytest.raises(InvalidProof, match=rule) as refused:
        _check(holder.proof("POST", URL, **claims), **overrides)
    assert refused.value.error == "invalid_dpop_proof"


def test_a_proof_with_the_right_ath_is_accepted() -> None:
    holder = ProofKey()
    assert _check(
        holder.proof("GET", URL, token="the-token"), method="GET", access_token="the-token"
    )


@pytest.mark.parametrize(
    "header",
    [{"typ": "JWT"}, {"typ": None}, {"jwk": None}],
    ids=["typ-jwt", "no-typ", "no-jwk"],
)
def test_a_proof_with_a_wrong_header_is_refused(header: dict[str, Any]) -> None:
    with pytest.raises(InvalidProof):
        _check(ProofKey().proof("POST", URL, header=header))


def test_a_proof_carrying_a_private_key_is_refused() -> None:
    holder = ProofKey()
    leaked = holder.proof("POST", URL, header={"jwk": holder.key.as_dict(private=True)})
    with pytest.raises(InvalidProof, match="private"):
        _check(leaked)


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused() -> None:
    holder, other = ProofKey(), ProofKey()
    forged = holder.proof("POST", URL, header={"jwk": other.key.as_dict(private=False)})
    with pytest.raises(InvalidProof, match="signature"):
        _check(forged)


def test_alg_none_and_hmac_proofs_are_refused() -> None:
    claims = {"jti": "j", "htm": "POST", "htu": URL, "iat": int(time.time())}
    secret = OctKey.generate_key(256)
    hmac_proof = jwt.encode(
        {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict(private=False)},
        claims,
        secret,
        algorithms=["HS256"],
    )
    jwk = ProofKey().key.as_dict(private=False)
    none_proof = _unsigned({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}, claims)
    for proof in (hmac_proof, none_proof):
        with pytest.raises(InvalidProof, match="algorithm"):
            _check(proof)
    # An oct jwk under an asymmetric alg is refused too: a symmetric key is all secret.
    oct_jwk = _unsigned(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "AA"}}, claims
    )
    with pytest.raises(InvalidProof, match="private or symmetric"):
        _check(oct_jwk)


def test_the_nonce_check_sees_the_proofs_nonce() -> None:
    seen: list[str | None] = []

    def need(nonce: str | None) -> None:
        seen.append(nonce)
        if nonce != "n-1":
            raise NonceRequired("nonce")

    holder = ProofKey()
    with pytest.raises(NonceRequired):
        _check(holder.proof("POST", URL), nonce=need)
    assert _check(holder.proof("POST", URL, nonce="n-1"), nonce=need).nonce == "n-1"
    assert seen == [None, "n-1"]


def test_a_request_with_two_proofs_or_a_garbled_one_is_refused() -> None:
    from starlette.datastructures import Headers

    two = Headers(raw=[(b"dpop", b"a.b.c"), (b"dpop", b"d.e.f")])
    with pytest.raises(InvalidProof, match="one"):
        proof_header(two)
    with pytest.raises(InvalidProof):
        proof_header({"DPoP": "not-a-jwt"})
    assert proof_header({}) is None


def test_the_replay_cache_refuses_a_proof_seen_within_the_window_then_forgets_it() -> None:
    cache = ReplayCache(max_entries=2)
    first = _check(ProofKey().proof("POST", URL))
    assert cache.first_use(first, 300, now=0.0)
    assert not cache.first_use(first, 300, now=10.0)
    # Past twice the window no proof with that iat could be accepted: forgotten.
    assert cache.first_use(first, 300, now=601.0)
    assert len(cache) == 1


def test_a_full_replay_cache_refuses_new_proofs_rather_than_forget_live_ones() -> None:
    cache = ReplayCache(max_entries=1)
    assert cache.first_use(_check(ProofKey().proof("POST", URL)), 300, now=0.0)
    with pytest.raises(InvalidProof, match="Too many"):
        cache.first_use(_check(ProofKey().proof("POST", URL)), 300, now=1.0)
