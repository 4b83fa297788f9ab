"""The kit's relying party against a stand-in issuer (the outside world, so mocked): the code
flow with PKCE (RFC 7636 §4), the checks of the callback's state and of the ID token (OIDC Core
§3.1.3.7), and RP-Initiated Logout. The login through the real gateway is the demo portal's and
the DPO pages' browser tests."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from vigie_shared.kit.oidc_rp import LoginFailed, RelyingParty

pytestmark = pytest.mark.asyncio(loop_scope="session")

ISSUER = "http://issuer.test"
CLIENT = "portal"
SECRET = "vigie_cs_portal-secret"
REDIRECT = "http://portal.test/auth/callback"


class FakeIssuer:
    """Discovery, JWKS and a token endpoint answering with an ID token for ``self.nonce``."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
        self.discovered_issuer = ISSUER
        self.nonce = ""
        self.claims: dict[str, Any] = {"sub": "u-1", "preferred_username": "ines.k"}
        self.token_requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": self.discovered_issuer,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                    "end_session_endpoint": f"{ISSUER}/logout",
                },
            )
        if request.url.path == "/jwks":
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
        if request.url.path == "/token":
            self.token_requests.append(request)
            return httpx.Response(
                200,
                json={
                    "access_token": "an-access-token",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self.id_token(),
                },
            )
        return httpx.Response(404)

    def id_token(self) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": CLIENT, "exp": now + 300, "iat": now, "nonce": self.nonce}
        body.update(self.claims)
        return jwt.encode({"alg": "ES256", "kid": "k1"}, body, self.key)

    def relying_party(self) -> RelyingParty:
        return RelyingParty(
            issuer=ISSUER,
            client_id=CLIENT,
            client_secret=SECRET,
            redirect_uri=REDIRECT,
            scope="openid profile",
            transport=httpx.MockTransport(self.handler),
        )


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


async def test_a_login_sends_pkce_and_a_nonce_and_ends_with_the_verified_person() -> None:
    issuer = FakeIssuer()
    rp = issuer.relying_party()
    started = await rp.start(lang="fr")
    asked = query(started.url)
    pending = started.state
    challenge = base64.urlsafe_b64encode(hashlib.sha256(pending["verifier"].encode()).digest())
    assert asked["code_challenge"] == challenge.rstrip(b"=").decode()
    assert asked["code_challenge_method"] == "S256"
    assert (asked["state"], asked["nonce"]) == (pending["state"], pending["nonce"])
    assert (asked["client_id"], asked["redirect_uri"], asked["ui_locales"]) == (
        CLIENT,
        REDIRECT,
        "fr",
    )

    issuer.nonce = pending["nonce"]
    signed_in = await rp.finish(
        callback_url=f"{REDIRECT}?code=c-1&state={pending['state']}", pending=pending
    )

    assert (signed_in.subject, signed_in.name) == ("u-1", "ines.k")
    assert signed_in.access_token == "an-access-token"
    (exchange,) = issuer.token_requests
    form = parse_qs(exchange.content.decode())
    assert form["code_verifier"] == [pending["verifier"]]
    assert form["code"] == ["c-1"]
    assert exchange.headers["authorization"].startswith("Basic ")  # client_secret_basic


@pytest.mark.parametrize(
    "claims",
    [
        {"nonce": "the-nonce-of-another-login"},
        {"aud": "another-client"},
        {"iss": "http://evil.test"},
    ],
    ids=["another-login", "another-client", "another-issuer"],
)
async def test_an_id_token_not_for_this_login_is_refused(claims: dict[str, Any]) -> None:
    issuer = FakeIssuer()
    rp = issuer.relying_party()
    pending = (await rp.start(lang="en")).state
    issuer.nonce = pending["nonce"]
    issuer.claims.update(claims)
    with pytest.raises(LoginFailed, match="ID token"):
        await rp.finish(
            callback_url=f"{REDIRECT}?code=c-1&state={pending['state']}", pending=pending
        )


async def test_a_callback_with_another_state_is_refused_before_any_exchange() -> None:
    issuer = FakeIssuer()
    rp = issuer.relying_party()
    pending = (await rp.start(lang="en")).state
    with pytest.raises(LoginFailed, match="exchanged"):
        await rp.finish(callback_url=f"{REDIRECT}?code=c-1&state=forged", pending=pending)
    assert issuer.token_requests == []


async def test_a_discovery_document_naming_another_issuer_is_refused() -> None:
    issuer = FakeIssuer()
    issuer.discovered_issuer = "http://evil.test"
    with pytest.raises(LoginFailed, match="another issuer"):
        await issuer.relying_party().start(lang="en")


async def test_logout_ends_the_sso_session_with_the_id_token_as_hint() -> None:
    issuer = FakeIssuer()
    url = await issuer.relying_party().logout_url(
        id_token="an-id-token", post_logout="http://portal.test/"
    )
    assert url is not None
    assert url.startswith(f"{ISSUER}/logout?")
    assert query(url) == {
        "post_logout_redirect_uri": "http://portal.test/",
        "client_id": CLIENT,
        "id_token_hint": "an-id-token",
    }


async def test_without_a_secret_the_relying_party_says_it_is_not_configured() -> None:
    rp = RelyingParty(
        issuer=ISSUER, client_id=CLIENT, client_secret=None, redirect_uri=REDIRECT, scope="openid"
    )
    assert not rp.configured
