"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9) at the token,
introspection and revocation endpoints: keys by value (``jwks``) or by reference
(``jwks_uri``, served here by a small HTTP server on loopback), each rule of the assertion
refused on its own, and the FAPI 2.0 clients' rules (no secret, no RS256)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from secrets import token_urlsafe as generate_token
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, OctKey, OKPKey, RSAKey

from sso_gateway.oauth.assertion_repository import SWEEP_BATCH, client_assertion_repository
from tests.sso_gateway.support import (
    ISSUER,
    Platform,
    basic,
    browser,
    get_code,
    make_client,
    redeem,
    unique,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class JwksHost:
    """A client's host publishing JWK Sets on loopback: ``documents`` by path, ``hits``
    counting the gateway's fetches."""

    base: str
    documents: dict[str, bytes] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def publish(self, path: str, *keys: Key) -> str:
        jwks = KeySet(list(keys)).as_dict(private=False)
        self.documents[path] = json.dumps(jwks).encode()
        return self.base + path


@pytest.fixture(scope="module")
def jwks_host() -> Iterator[JwksHost]:
    host = JwksHost(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host.hits[self.path] = host.hits.get(self.path, 0) + 1
            body = host.documents.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex})


def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex})


def public_jwks(*keys: Key) -> dict[str, Any]:
    return dict(KeySet(list(keys)).as_dict(private=False))


async def keyed_client(sso: FastAPI, **overrides: Any) -> Platform:
    """A private_key_jwt client (give it ``jwks`` or ``jwks_uri``)."""
    data: dict[str, Any] = {"token_endpoint_auth_method": "private_key_jwt"}
    data.update(overrides)
    platform = await make_client(sso, **data)
    assert platform.client_secret is None
    # ``make_client`` names its platform by the id it drew, whatever ``client_id`` says.
    return replace(platform, client_id=overrides.get("client_id", platform.client_id))


def assertion(client_id: str, key: Key, alg: str = "ES256", **claims: Any) -> str:
    """A client assertion (RFC 7523 §3) of ``client_id``; a claim given as None is left out."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    payload.update(claims)
    header: dict[str, Any] = {"alg": alg}
    if key.kid:
        header["kid"] = key.kid
    return jwt.encode(
        header, {k: v for k, v in payload.items() if v is not None}, key, algorithms=[alg]
    )


def authenticated(signed: str, **form: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed, **form}


async def client_credentials(sso: FastAPI, signed: str, **form: str) -> httpx.Response:
    async with browser(sso) as http:
        return await http.post(
            "/token", data=authenticated(signed, grant_type="client_credentials", **form)
        )


def refused(response: httpx.Response, rule: str) -> None:
    """RFC 6749 §5.2: invalid_client, 401, the description naming ``rule``."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    assert rule.lower() in body["error_description"].lower(), body


async def test_client_credentials_with_keys_by_value(sso: FastAPI) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    response = await client_credentials(sso, assertion(platform.client_id, key))
    assert response.status_code == 200, response.text
    claims = jwt.decode(
        response.json()["access_token"], KeySet.import_key_set(await published_keys(sso))
    ).claims
    assert claims["client_id"] == platform.client_id


async def published_keys(sso: FastAPI) -> Any:
    async with browser(sso) as http:
        return (await http.get("/jwks")).json()


@pytest.mark.parametrize("endpoint", ["/token", "/par"])
async def test_the_token_and_par_endpoint_urls_are_audiences_too(
    sso: FastAPI, endpoint: str
) -> None:
    # RFC 7523 §3 (the token endpoint), RFC 9126 §2 (the PAR endpoint: MUST be accepted).
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    signed = assertion(platform.client_id, key, aud=f"{ISSUER}{endpoint}")
    assert (await client_credentials(sso, signed)).status_code == 200


async def test_each_allowed_algorithm_verifies(sso: FastAPI) -> None:
    keys: list[tuple[Key, str]] = [
        (ec_key(), "ES256"),
        (rsa_key(), "PS256"),
        (rsa_key(), "RS256"),
        (OKPKey.generate_key("Ed25519", parameters={"kid": "ed"}), "EdDSA"),
    ]
    platform = await keyed_client(
        sso, grant_types=["client_credentials"], jwks=public_jwks(*(k for k, _ in keys))
    )
    for key, alg in keys:
        response = await client_credentials(sso, assertion(platform.client_id, key, alg))
        assert response.status_code == 200, (alg, response.text)


@pytest.mark.parametrize("by_reference", [False, True])
async def test_authorization_code_and_refresh(
    sso: FastAPI, jwks_host: JwksHost, by_reference: bool
) -> None:
    key = ec_key()
    path = f"/{unique('keys')}/jwks"
    if by_reference:
        platform = await keyed_client(sso, jwks_uri=jwks_host.publish(path, key))
    else:
        platform = await keyed_client(sso, jwks=public_jwks(key))
    verifier = generate_token(48)
    code = await get_code(sso, platform, verifier)
    async with browser(sso) as http:
        response = await http.post(
            "/token",
            data=authenticated(
                assertion(platform.client_id, key), **redeem(platform, code, verifier)
            ),
        )
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert {"access_token", "id_token", "refresh_token"} <= tokens.keys()
        refreshed = await http.post(
            "/token",
            data=authenticated(
                assertion(platform.client_id, key),
                grant_type="refresh_token",
                refresh_token=tokens["refresh_token"],
            ),
        )
    assert refreshed.status_code == 200, refreshed.text
    assert jwks_host.hits.get(path, 0) == (1 if by_reference else 0)


async def test_introspection_and_revocation_with_it(sso: FastAPI, jwks_host: JwksHost) -> None:
    """Both run Authlib in a worker thread: the keys are fetched from there (``Provider.load``
    falls back on ``Provider.call``), and the jti recorded likewise."""
    key = ec_key()
    client_id = unique("keyed")
    uri = jwks_host.publish(f"/{client_id}/jwks", key)
    platform = await keyed_client(
        sso, client_id=client_id, jwks_uri=uri, grant_types=["client_credentials"]
    )
    # Introspection first, so that the keys are fetched from its worker thread.
    assert (await introspect_as(sso, assertion(client_id, key))).json() == {"active": False}
    assert jwks_host.hits[f"/{client_id}/jwks"] == 1
    issued = await client_credentials(sso, assertion(client_id, key))
    access = issued.json()["access_token"]
    async with browser(sso) as http:
        seen = await http.post(
            "/introspect", data=authenticated(assertion(client_id, key), token=access)
        )
        assert seen.status_code == 200, seen.text
        assert seen.json()["active"] is True
        assert seen.json()["client_id"] == platform.client_id
        revoked = await http.post(
            "/revoke", data=authenticated(assertion(client_id, key), token=access)
        )
        assert revoked.status_code == 200, revoked.text
        again = await http.post(
            "/introspect", data=authenticated(assertion(client_id, key), token=access)
        )
    assert again.json() == {"active": False}


async def test_a_replayed_assertion_is_refused(sso: FastAPI) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    signed = assertion(platform.client_id, key)
    assert (await client_credentials(sso, signed)).status_code == 200
    refused(await client_credentials(sso, signed), "replayed")
    async with browser(sso) as http:
        # The jti is spent for every endpoint, not just the one it was first used at.
        refused(await http.post("/introspect", data=authenticated(signed, token="x")), "replayed")


async def test_a_jti_is_the_clients_own(sso: FastAPI) -> None:
    """Keyed by client and jti: another client's jti of the same value is no replay."""
    key = ec_key()
    first = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    second = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    jti = uuid.uuid4().hex
    assert (await client_credentials(sso, assertion(first.client_id, key, jti=jti))).is_success
    assert (await client_credentials(sso, assertion(second.client_id, key, jti=jti))).is_success


@pytest.mark.parametrize(
    "aud",
    [
        "https://elsewhere.example/token",
        f"{ISSUER}/introspect",
        [ISSUER, "https://elsewhere.example"],
    ],
)
async def test_a_wrong_audience_is_refused(sso: FastAPI, aud: Any) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    refused(await client_credentials(sso, assertion(platform.client_id, key, aud=aud)), "wrong aud")


async def test_an_expired_assertion_is_refused(sso: FastAPI) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    now = int(time.time())
    signed = assertion(platform.client_id, key, iat=now - 300, exp=now - 120)
    refused(await client_credentials(sso, signed), "expired")


async def test_an_assertion_without_exp_is_refused(sso: FastAPI) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    refused(await client_credentials(sso, assertion(platform.client_id, key, exp=None)), "exp")


@pytest.mark.parametrize("ahead", [2 * 3600, float("inf"), float("nan")])
async def test_an_assertion_for_too_long_is_refused(sso: FastAPI, ahead: float) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    signed = assertion(platform.client_id, key, exp=time.time() + ahead)
    refused(await client_credentials(sso, signed), "too far ahead")


async def test_an_assertion_from_the_future_is_refused(sso: FastAPI) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    later = int(time.time()) + 600
    refused(
        await client_credentials(sso, assertion(platform.client_id, key, nbf=later)),
        "not yet valid",
    )
    refused(
        await client_credentials(sso, assertion(platform.client_id, key, iat=later)),
        "issued in the future",
    )


async def test_an_assertion_without_jti_is_refused(sso: FastAPI) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    refused(await client_credentials(sso, assertion(platform.client_id, key, jti=None)), "jwt id")


async def test_iss_must_be_the_client(sso: FastAPI) -> None:
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    signed = assertion(platform.client_id, key, iss="someone-else")
    refused(await client_credentials(sso, signed), "issuer and subject")


async def test_a_signature_by_another_key_is_refused(sso: FastAPI) -> None:
    key, other = ec_key(), ECKey.generate_key("P-256")
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    forged = ECKey.import_key(other.as_dict(private=True), parameters={"kid": str(key.kid)})
    refused(await client_credentials(sso, assertion(platform.client_id, forged)), "signature")


async def test_hs256_with_the_client_id_as_secret_and_none_are_refused(sso: FastAPI) -> None:
    """An HMAC needs no private key: with the client id (or any public value) as its secret,
    anyone could sign one. And an unsigned JWT (alg none) proves nothing."""
    key = ec_key()
    client_id = unique("keyed")
    platform = await keyed_client(
        sso, client_id=client_id, grant_types=["client_credentials"], jwks=public_jwks(key)
    )
    secret = OctKey.import_key(client_id.encode() * 4)
    refused(
        await client_credentials(sso, assertion(platform.client_id, secret, "HS256")),
        "alg is not allowed",
    )
    signed = assertion(platform.client_id, key)
    unsigned = ".".join(
        [
            base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode(),
            signed.split(".")[1],
            "",
        ]
    )
    refused(await client_credentials(sso, unsigned), "alg is not allowed")


async def fapi_client(sso: FastAPI, *keys: Key) -> Platform:
    return await keyed_client(sso, fapi=True, jwks=public_jwks(*keys))


async def introspect_as(sso: FastAPI, signed: str) -> httpx.Response:
    """Introspection, where a FAPI client's authentication is judged alone (its token
    requests need PAR and DPoP besides)."""
    async with browser(sso) as http:
        return await http.post("/introspect", data=authenticated(signed, token="x"))


async def test_a_fapi_client_signs_with_es256_ps256_or_eddsa_never_rs256(sso: FastAPI) -> None:
    ec, rsa = ec_key(), rsa_key()
    platform = await fapi_client(sso, ec, rsa)
    assert (await introspect_as(sso, assertion(platform.client_id, ec, "ES256"))).is_success
    assert (await introspect_as(sso, assertion(platform.client_id, rsa, "PS256"))).is_success
    refused(await introspect_as(sso, assertion(platform.client_id, rsa, "RS256")), "FAPI")


async def registered_with_a_secret_then(sso: FastAPI, **changes: Any) -> Platform:
    """A client that had a secret and was moved to private_key_jwt (its row edited, the
    secret's hash left behind): the secret must no longer open anything."""
    platform = await make_client(sso, grant_types=["client_credentials"])
    assert platform.client_secret is not None
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    async with sso.state.runtime.pool.acquire() as conn:
        await conn.execute(
            f"UPDATE clients SET {sets} WHERE client_id = $1",
            platform.client_id,
            *changes.values(),
        )
    return platform


async def by_each_secret_method(
    platform: Platform, http: httpx.AsyncClient, path: str, data: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """``data`` sent to ``path`` with the client's secret, once by Basic, once in the body."""
    by_basic = await http.post(path, data=data, auth=basic(platform))
    secret = {"client_id": platform.client_id, "client_secret": platform.client_secret or ""}
    by_post = await http.post(path, data={**data, **secret})
    return by_basic, by_post


async def test_a_secret_from_a_private_key_jwt_client_is_refused(sso: FastAPI) -> None:
    key = ec_key()
    platform = await registered_with_a_secret_then(
        sso,
        token_endpoint_auth_method="private_key_jwt",
        jwks=public_jwks(key),
    )
    async with browser(sso) as http:
        by_basic, by_post = await by_each_secret_method(
            platform, http, "/token", {"grant_type": "client_credentials"}
        )
    refused(by_basic, "cannot authenticate")
    refused(by_post, "cannot authenticate")
    assert (await client_credentials(sso, assertion(platform.client_id, key))).is_success


async def test_a_secret_from_a_fapi_client_is_refused(sso: FastAPI) -> None:
    key = ec_key()
    platform = await registered_with_a_secret_then(
        sso,
        token_endpoint_auth_method="private_key_jwt",
        jwks=public_jwks(key),
        require_pushed_authorization_requests=True,
        dpop_bound_access_tokens=True,
        fapi=True,
    )
    async with browser(sso) as http:
        by_basic, by_post = await by_each_secret_method(
            platform, http, "/introspect", {"token": "x"}
        )
    refused(by_basic, "cannot authenticate")
    refused(by_post, "cannot authenticate")


async def test_a_client_uses_only_the_secret_method_it_registered(sso: FastAPI) -> None:
    platform = await make_client(
        sso, grant_types=["client_credentials"], token_endpoint_auth_method="client_secret_post"
    )
    async with browser(sso) as http:
        by_basic, by_post = await by_each_secret_method(
            platform, http, "/token", {"grant_type": "client_credentials"}
        )
    refused(by_basic, "cannot authenticate")
    assert by_post.status_code == 200, by_post.text


async def test_an_assertion_with_a_secret_beside_it_is_refused(sso: FastAPI) -> None:
    """RFC 6749 §2.3: one method per request; a client_id beside it names the same client."""
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    secret_client = await make_client(sso, grant_types=["client_credentials"])
    async with browser(sso) as http:
        both = await http.post(
            "/token",
            data=authenticated(assertion(platform.client_id, key), grant_type="client_credentials"),
            auth=basic(secret_client),
        )
    assert both.status_code == 400, both.text
    assert both.json()["error"] == "invalid_request"
    other = await client_credentials(
        sso, assertion(platform.client_id, key), client_id=secret_client.client_id
    )
    refused(other, "client_id")


async def test_a_rotated_key_is_picked_up_from_the_jwks_uri(
    sso: FastAPI, jwks_host: JwksHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = ec_key(), ec_key()
    client_id = unique("keyed")
    path = f"/{client_id}/jwks"
    uri = jwks_host.publish(path, old)
    await keyed_client(sso, client_id=client_id, jwks_uri=uri, grant_types=["client_credentials"])
    assert (await client_credentials(sso, assertion(client_id, old))).is_success
    # RFC 7517 §4.5: the client publishes its new key under a new kid and signs with it.
    jwks_host.publish(path, new)
    monkeypatch.setattr(sso.state.provider.client_assertions.keys, "min_interval", 0.0)
    response = await client_credentials(sso, assertion(client_id, new))
    assert response.status_code == 200, response.text
    assert jwks_host.hits[path] == 2
    # The old key, gone from the set now cached, opens nothing.
    refused(await client_credentials(sso, assertion(client_id, old)), "unknown kid")


async def test_unknown_kids_fetch_the_keys_again_at_most_every_few_seconds(
    sso: FastAPI, jwks_host: JwksHost
) -> None:
    key = ec_key()
    client_id = unique("keyed")
    path = f"/{client_id}/jwks"
    uri = jwks_host.publish(path, key)
    await keyed_client(sso, client_id=client_id, jwks_uri=uri, grant_types=["client_credentials"])
    assert (await client_credentials(sso, assertion(client_id, key))).is_success
    for _ in range(3):
        made_up = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex})
        refused(await client_credentials(sso, assertion(client_id, made_up)), "unknown kid")
    assert jwks_host.hits[path] == 1


@pytest.mark.parametrize(
    ("path", "rule"),
    [("/nowhere/jwks", "HTTP 404"), ("/huge/jwks", "larger than"), ("/junk/jwks", "JWK Set")],
)
async def test_a_jwks_uri_that_fails_is_invalid_client(
    sso: FastAPI, jwks_host: JwksHost, path: str, rule: str
) -> None:
    jwks_host.documents["/huge/jwks"] = b'{"keys": [' + b" " * 100_000 + b"]}"
    jwks_host.documents["/junk/jwks"] = b"<html>maintenance</html>"
    key = ec_key()
    client_id = unique("keyed")
    await keyed_client(
        sso,
        client_id=client_id,
        jwks_uri=f"{jwks_host.base}{path}?{client_id}",
        grant_types=["client_credentials"],
    )
    refused(await client_credentials(sso, assertion(client_id, key)), rule)


async def test_an_unreachable_jwks_uri_is_invalid_client(sso: FastAPI) -> None:
    key = ec_key()
    client_id = unique("keyed")
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    await keyed_client(
        sso,
        client_id=client_id,
        jwks_uri="http://127.0.0.1:9/jwks",
        grant_types=["client_credentials"],
    )
    refused(await client_credentials(sso, assertion(client_id, key)), "could not be fetched")
    # From the worker thread too (introspection fetches there): a client's failure, not a 500.
    other = unique("keyed")
    await keyed_client(sso, client_id=other, jwks_uri="http://127.0.0.1:9/jwks?2")
    refused(await introspect_as(sso, assertion(other, key)), "could not be fetched")
    # A URI httpx cannot even parse (the registration's pattern lets it through).
    broken = unique("keyed")
    await keyed_client(
        sso, client_id=broken, jwks_uri="http://[::1/jwks", grant_types=["client_credentials"]
    )
    refused(await client_credentials(sso, assertion(broken, key)), "could not be fetched")


async def test_one_assertion_sent_at_once_many_times_opens_one_request(sso: FastAPI) -> None:
    """The jti's row, not a read before a write, decides: concurrent replays lose."""
    key = ec_key()
    platform = await keyed_client(sso, grant_types=["client_credentials"], jwks=public_jwks(key))
    signed = assertion(platform.client_id, key)
    responses = await asyncio.gather(*(client_credentials(sso, signed) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 401, 401, 401, 401]


async def test_a_jti_row_lives_as_long_as_its_assertion_and_inserts_sweep_expired_ones(
    sso: FastAPI,
) -> None:
    platform = await keyed_client(sso, jwks=public_jwks(ec_key()))
    client_id = platform.client_id
    now, minute, second = datetime.now(UTC), timedelta(seconds=60), timedelta(seconds=1)
    async with sso.state.runtime.pool.acquire() as conn:
        assert await client_assertion_repository.use(conn, client_id, "a", now + minute)
        assert not await client_assertion_repository.use(conn, client_id, "a", now + minute)
        # Expired: the assertion it was kept for can no longer be accepted, its jti is free.
        assert await client_assertion_repository.use(conn, client_id, "b", now - second)
        assert await client_assertion_repository.use(conn, client_id, "b", now + minute)
        await conn.executemany(
            "INSERT INTO client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)",
            [(client_id, f"old-{i}", now - second) for i in range(SWEEP_BATCH + 8)],
        )
        assert await client_assertion_repository.use(conn, client_id, "c", now + minute)
        left = await conn.fetchval(
            "SELECT count(*) FROM client_assertions WHERE client_id = $1 AND jti LIKE 'old-%'",
            client_id,
        )
        # A bounded batch per insert (``SWEEP_BATCH``, expired rows of any client), the rest
        # at the next ones.
        assert 8 <= left < SWEEP_BATCH + 8
        for jti in "defgh":
            assert await client_assertion_repository.use(conn, client_id, jti, now + minute)
        kept = await conn.fetch(
            "SELECT jti FROM client_assertions WHERE client_id = $1 ORDER BY jti", client_id
        )
    assert [r["jti"] for r in kept] == list("abcdefgh")
