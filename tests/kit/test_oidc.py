"""Access-token verification as resource servers do it (RFC 9068 §4, RFC 8725)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from vigie_shared.kit.http import install_problem_handlers
from vigie_shared.kit.oidc import InvalidToken, Principal, TokenVerifier, app_verifier, bearer

pytestmark = pytest.mark.asyncio(loop_scope="session")

ISSUER = "http://issuer.test"


class FakeIssuer:
    """The outside world for a resource server: a discovery document and a JWKS."""

    def __init__(self) -> None:
        self.keys: list[ECKey | RSAKey] = [
            ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
        ]
        self.jwks_fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(200, json=KeySet(list(self.keys)).as_dict(private=False))
        return httpx.Response(404)

    def verifier(self, audience: str = "dpo-requests") -> TokenVerifier:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return TokenVerifier(ISSUER, audience, http=http, min_refresh=0)

    def token(self, key: Any = None, header: dict[str, Any] | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "dpo-requests", "sub": "u-1", "exp": now + 300, "iat": now}
        body.update(claims)
        head = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
        head.update(header or {})
        return jwt.encode(head, body, key)


async def test_a_valid_access_token_gives_the_principal_and_roles() -> None:
    issuer = FakeIssuer()
    principal = await issuer.verifier().verify(
        issuer.token(roles=["learner"], client_id="moodle", scope="openid profile")
    )
    assert principal == Principal(
        subject="u-1",
        roles=frozenset({"learner"}),
        client_id="moodle",
        scopes=frozenset({"openid", "profile"}),
        claims=principal.claims,
    )


@pytest.mark.parametrize(
    ("claims", "header"),
    [
        ({"aud": "audit-log"}, {}),
        ({"iss": "http://evil.test"}, {}),
        ({"exp": int(time.time()) - 3600}, {}),
        ({}, {"typ": "JWT"}),
    ],
    ids=["other-audience", "other-issuer", "expired", "id-token-typ"],
)
async def test_tokens_not_meant_for_us_are_refused(
    claims: dict[str, Any], header: dict[str, Any]
) -> None:
    issuer = FakeIssuer()
    with pytest.raises(InvalidToken):
        await issuer.verifier().verify(issuer.token(header=header, **claims))


async def test_a_token_signed_by_another_key_is_refused() -> None:
    issuer = FakeIssuer()
    stranger = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    with pytest.raises(InvalidToken):
        await issuer.verifier().verify(issuer.token(key=stranger))


async def test_hs256_signed_with_public_material_and_alg_none_are_refused() -> None:
    issuer = FakeIssuer()
    verifier = issuer.verifier()
    hmac_key = OctKey.import_key(b"public-key-bytes-used-as-secret!")
    forged = jwt.encode({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, {"sub": "u"}, hmac_key)
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(forged)
    header = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0"  # {"alg":"none","typ":"at+jwt"}
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(f"{header}.eyJzdWIiOiJ1In0.")


async def test_a_rotated_in_key_is_fetched_once_when_first_seen() -> None:
    issuer = FakeIssuer()
    verifier = issuer.verifier()
    await verifier.verify(issuer.token())
    new_key = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    issuer.keys.append(new_key)
    principal = await verifier.verify(issuer.token(key=new_key, header={"alg": "RS256"}))
    assert principal.subject == "u-1"
    assert issuer.jwks_fetches == 2


async def test_bearer_dependency_answers_401_403_and_200() -> None:
    issuer = FakeIssuer()
    app = FastAPI()
    install_problem_handlers(app)
    app.state.verifier = issuer.verifier()
    dpo_only = bearer(lambda request: request.app.state.verifier, "dpo")

    @app.get("/dpo")
    async def endpoint(principal: Principal = Depends(dpo_only)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        missing = await http.get("/dpo")
        wrong_role = await http.get(
            "/dpo", headers={"Authorization": f"Bearer {issuer.token(roles=['learner'])}"}
        )
        garbage = await http.get("/dpo", headers={"Authorization": "Bearer not.a.token"})
        ok = await http.get(
            "/dpo", headers={"Authorization": f"Bearer {issuer.token(roles=['dpo'])}"}
        )
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == "application/problem+json"
    assert wrong_role.status_code == 403
    assert garbage.status_code == 401
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]
    assert ok.json() == {"sub": "u-1"}


async def test_bearer_refusals_are_logged_with_who_and_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer = FakeIssuer()
    app = FastAPI()
    install_problem_handlers(app)
    app.state.verifier = issuer.verifier()
    dpo_only = bearer(lambda request: request.app.state.verifier, "dpo")

    @app.get("/dpo")
    async def endpoint(principal: Principal = Depends(dpo_only)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject}

    caplog.set_level("INFO", logger="vigie.security")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await http.get("/dpo")
        await http.get("/dpo", headers={"Authorization": "Bearer not.a.token"})
        await http.get(
            "/dpo", headers={"Authorization": f"Bearer {issuer.token(sub='u-7', roles=['x'])}"}
        )
        other_issuer = await http.get(
            "/dpo", headers={"Authorization": f"Bearer {issuer.token(iss='http://evil.test')}"}
        )
        await http.get("/dpo", headers={"Authorization": f"Bearer {issuer.token(roles=['dpo'])}"})
    refused = [r for r in caplog.records if r.getMessage() == "access denied"]
    assert [
        (r.__dict__["status"], r.__dict__["reason"], r.__dict__["user_id"]) for r in refused
    ] == [
        (401, "missing_token", None),
        (401, "invalid_token", None),
        (403, "missing_role", "u-7"),
        (401, "invalid_token", None),
    ]
    # RFC 9110 §5.6.4: the description stays one quoted-string whatever the error says.
    challenge = other_issuer.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert challenge.count('"') == 4


async def test_an_audience_among_several_is_accepted() -> None:
    issuer = FakeIssuer()
    principal = await issuer.verifier().verify(issuer.token(aud=["moodle", "dpo-requests"]))
    assert principal.subject == "u-1"


async def test_a_token_for_another_resource_is_refused_with_401_and_who_tried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``admit`` checks the audience before the role: a DPO's token issued to a platform is
    authentic, with the right role, and still opens nothing here (RFC 9068 §4)."""
    issuer = FakeIssuer()
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = issuer.verifier()
    dpo_only = bearer(app_verifier, "dpo")

    @app.get("/dpo")
    async def endpoint(principal: Principal = Depends(dpo_only)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject}

    caplog.set_level("INFO", logger="vigie.security")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        refused = await http.get(
            "/dpo",
            headers={"Authorization": f"Bearer {issuer.token(aud='moodle', roles=['dpo'])}"},
        )
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    (record,) = [r for r in caplog.records if r.getMessage() == "access denied"]
    assert (record.__dict__["reason"], record.__dict__["user_id"]) == ("wrong_audience", "u-1")
