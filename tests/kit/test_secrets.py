"""The kit's secrets (kit/secrets.py): what is stored keeps verifying, and short-lived tokens
refuse tampering, another purpose, another key and age.

The vectors were computed with the hand-written functions the kit replaced (the gateway's and
the audit log's crypto modules, the DPO pages' session hash) before the change; a failure here
means stored hashes, signing keys or wrapped data keys would no longer verify or decrypt."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from starlette.requests import Request

from audit_log.checkpoints import service as checkpoints
from audit_log.shredding import crypto as shredding
from dpo_requests.config import Settings as DpoSettings
from dpo_requests.intake import service as intake_service
from dpo_requests.packages import links
from dpo_requests.packages.repository import package_repository
from dpo_requests.packages.service import package_service
from dpo_requests.web import session as dpo_session
from sso_gateway import crypto as sso_crypto
from sso_gateway.config import Settings as SsoSettings
from sso_gateway.login import pages, throttle
from tests.dpo_requests.support import running_dpo
from vigie_shared.cli import demo_client_secret
from vigie_shared.demo.payment import session as demo_session
from vigie_shared.demo.payment.config import PaymentSettings
from vigie_shared.kit import secrets

SECRET = "vigie-test-vector-secret-of-32-chars-or-more"
OTHER = "another-test-secret-of-thirty-two-chars-!!"

CLIENT_SECRET_HASH = "420f91f2c3e1e53878b09e441af3a1120357592e74b42f7713ef69de131e70a8"
DEVICE_MAC = "33f9d5a39774773645d6c07d03fca66f2da02b20f118e7d2ae2645ae1e487814"
SIGNING_KEYS_KEY = "f5c21626f014f2d4e5bdc3cc3602925c5367166bcc48856c079935f66900ab39"
SUBJECT_KEYS_KEY = "6ed479029569094c7199210ef85ccdaf1c6b1a640285183ca5d0f806159a46e3"
CHECKPOINT_KEY = "da02be307452aa3fc20abc316a669654fc3f7a60920ec7e3f1ccd82d2352fa55"
STORED_SIGNING_KEY = bytes.fromhex(
    "eaa6d91b854db0717859196222d9d9832bb66eef8c2b7390b35e90a1c980b50d11283ebb9c54c4d3e7e36309267a14"
)
STORED_WRAPPED_KEY = bytes.fromhex(
    "30cc4fa19ad058c5023437f26d476cd98d5a61e78b3cc200335ac393f107745d"
    "866ac95a3548218e8b13def5e3452acd98d2d3b401f3480f6402aeba"
)
DPO_SESSION_HASH = "d976db3715b776f0f7b845335284938dc9445d606c06e39a7c4c533498c53c96"


def test_the_gateways_stored_keyed_hashes_still_verify() -> None:
    assert secrets.keyed_hash(SECRET, "vigie_cs_client-secret") == CLIENT_SECRET_HASH
    assert sso_crypto.keyed_hash(SECRET, "vigie_cs_client-secret") == CLIENT_SECRET_HASH
    assert sso_crypto.matches(SECRET, "vigie_cs_client-secret", CLIENT_SECRET_HASH)
    assert not sso_crypto.matches(SECRET, "vigie_cs_client-secreT", CLIENT_SECRET_HASH)
    assert not sso_crypto.matches(OTHER, "vigie_cs_client-secret", CLIENT_SECRET_HASH)
    assert not sso_crypto.matches(SECRET, "vigie_cs_client-secret", None)


def test_a_device_cookie_issued_before_the_kit_is_still_recognised() -> None:
    settings = SsoSettings(secret_key=SECRET)
    cookie = f"nonce-1.{DEVICE_MAC}"
    assert throttle.recognised_device(settings, "u-1", cookie) == "nonce-1"
    assert throttle.recognised_device(settings, "u-2", cookie) is None
    fresh = throttle.new_device_cookie(settings, "u-1")
    assert throttle.recognised_device(settings, "u-1", fresh) == fresh.split(".")[0]


def test_the_derived_keys_of_stored_ciphertexts_are_unchanged() -> None:
    assert secrets.derive_key(SECRET, sso_crypto.SIGNING_KEYS_PURPOSE).hex() == SIGNING_KEYS_KEY
    assert secrets.derive_key(SECRET, shredding.SUBJECT_KEYS_PURPOSE).hex() == SUBJECT_KEYS_KEY
    assert secrets.derive_key(SECRET, checkpoints.SIGNING_KEY_PURPOSE).hex() == CHECKPOINT_KEY
    # RFC 5869 Appendix A.3 (no salt, no info): HKDF itself, not a look-alike.
    ikm = bytes.fromhex("0b" * 22)
    assert secrets.derive_key(ikm, "", 42).hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_a_stored_signing_key_and_a_wrapped_data_key_still_decrypt() -> None:
    assert sso_crypto.decrypt(SECRET, STORED_SIGNING_KEY, context="kid-1") == b"private signing key"
    assert shredding.KeyWrapper(SECRET).unwrap(STORED_WRAPPED_KEY, b"subject-1") == b"\x01" * 32
    with pytest.raises(InvalidTag):
        sso_crypto.decrypt(SECRET, STORED_SIGNING_KEY, context="kid-2")
    with pytest.raises(InvalidTag):
        shredding.KeyWrapper(OTHER).unwrap(STORED_WRAPPED_KEY, b"subject-1")


def test_the_dpo_pages_stored_session_hashes_still_find_their_rows() -> None:
    settings = DpoSettings(secret_key=SECRET)
    assert dpo_session._token_hash(settings, "session-token-1") == DPO_SESSION_HASH


def test_sealing_uses_a_fresh_nonce_and_binds_key_and_associated_data() -> None:
    key = secrets.derive_key(SECRET, "test sealing")
    one, two = secrets.seal(key, b"payload", b"row-1"), secrets.seal(key, b"payload", b"row-1")
    assert one[: secrets.NONCE_SIZE] != two[: secrets.NONCE_SIZE]
    assert len(one) == secrets.NONCE_SIZE + len(b"payload") + 16
    assert secrets.open_sealed(key, one, b"row-1") == b"payload"
    flipped = one[:-1] + bytes([one[-1] ^ 1])
    for blob, aad, with_key in (
        (one, b"row-2", key),
        (flipped, b"row-1", key),
        (one, b"row-1", secrets.derive_key(SECRET, "another purpose")),
    ):
        with pytest.raises(InvalidTag):
            secrets.open_sealed(with_key, blob, aad)


def test_a_csrf_token_is_bound_to_its_seed_its_purpose_and_the_key() -> None:
    token = secrets.csrf_token(SECRET, "seed-1", "forms")
    assert secrets.csrf_valid(SECRET, "seed-1", token, "forms")
    assert not secrets.csrf_valid(SECRET, "seed-2", token, "forms")
    assert not secrets.csrf_valid(SECRET, "seed-1", token, "other forms")
    assert not secrets.csrf_valid(OTHER, "seed-1", token, "forms")
    assert not secrets.csrf_valid(SECRET, "seed-1", None, "forms")
    assert not secrets.csrf_valid(SECRET, None, token, "forms")
    # A client may post anything: a non-ASCII field is a wrong token, not a server error.
    assert not secrets.csrf_valid(SECRET, "seed-1", "é" * 64, "forms")


def test_the_gateways_csrf_token_is_the_kits_and_refuses_another_cookie() -> None:
    settings = SsoSettings(secret_key=SECRET)
    seed = "s" * 43
    token = pages.csrf_token(settings, seed)
    assert token == secrets.csrf_token(SECRET, seed, pages.CSRF_PURPOSE)

    def posted(cookie: str) -> Request:
        header = (b"cookie", f"{pages.CSRF_COOKIE}={cookie}".encode())
        return Request({"type": "http", "headers": [header]})

    assert pages.csrf_valid(settings, posted(seed), token)
    assert not pages.csrf_valid(settings, posted("t" * 43), token)
    # What the gateway's forms carried before the kit: refused, the page simply expired.
    before = secrets.keyed_hash(SECRET, f"csrf:{seed}")
    assert not pages.csrf_valid(settings, posted(seed), before)


def test_a_signed_token_refuses_tampering_another_purpose_another_key_and_age(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = secrets.sign_token(SECRET, "login state", {"state": "s-1"})
    assert secrets.read_token(SECRET, "login state", token, max_age=60) == {"state": "s-1"}
    payload, stamp, signature = token.split(".")
    for forged in (
        f"{payload}x.{stamp}.{signature}",
        f"{payload}.{stamp}.{signature[:-2]}AA",
        "garbage",
    ):
        with pytest.raises(secrets.InvalidToken):
            secrets.read_token(SECRET, "login state", forged, max_age=60)
    with pytest.raises(secrets.InvalidToken):
        secrets.read_token(SECRET, "confirmation", token, max_age=60)
    with pytest.raises(secrets.InvalidToken):
        secrets.read_token(OTHER, "login state", token, max_age=60)
    later = TimestampSigner.get_timestamp(TimestampSigner(b"k")) + 61
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    with pytest.raises(secrets.InvalidToken, match="age"):
        secrets.read_token(SECRET, "login state", token, max_age=60)


def test_a_signed_value_stays_readable_and_refuses_another_purpose() -> None:
    token = secrets.sign_value(SECRET, "links", "p-1.1772971200")
    assert token.startswith("p-1.1772971200.")
    assert secrets.signed_value(SECRET, "links", token) == "p-1.1772971200"
    for forged, purpose in ((token.replace("p-1", "p-2"), "links"), (token, "other links")):
        with pytest.raises(secrets.InvalidToken):
            secrets.signed_value(SECRET, purpose, forged)


def test_every_comparison_of_a_secret_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: bytes | str, b: bytes | str) -> bool:
        calls.append((a, b))
        return real(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(hmac, "compare_digest", spy)
    checks: list[Callable[[], object]] = [
        lambda: secrets.matches(SECRET, "v", CLIENT_SECRET_HASH),
        lambda: secrets.csrf_valid(SECRET, "seed", "x", "forms"),
        lambda: secrets.read_token(
            SECRET, "p", secrets.sign_token(SECRET, "p", "payload"), max_age=60
        ),
        lambda: secrets.signed_value(SECRET, "p", secrets.sign_value(SECRET, "p", "v")),
        lambda: demo_session.PortalSession(subject="u", name="U", csrf="c").csrf_valid("c"),
    ]
    for check in checks:
        before = len(calls)
        check()
        assert len(calls) > before


def test_every_purpose_is_named_once() -> None:
    purposes = [
        sso_crypto.SIGNING_KEYS_PURPOSE,
        pages.CSRF_PURPOSE,
        shredding.SUBJECT_KEYS_PURPOSE,
        checkpoints.SIGNING_KEY_PURPOSE,
        intake_service.CODE_HASH_PURPOSE,
        dpo_session.SESSION_HASH_PURPOSE,
        dpo_session.CSRF_PURPOSE,
        dpo_session.CONFIRM_PURPOSE,
        dpo_session.LOGIN_STATE_PURPOSE,
        links.LINK_PURPOSE,
        demo_session.SESSION_PURPOSE,
        demo_session.LOGIN_STATE_PURPOSE,
    ]
    assert len(set(purposes)) == len(purposes)


def test_a_demo_portal_cookie_signed_before_the_kit_is_a_logged_out_visitor() -> None:
    settings = PaymentSettings(secret_key=SECRET)
    before = URLSafeTimedSerializer(SECRET, salt="vigie-demo-payment-session-v1").dumps(
        {"sub": "u-1", "name": "U", "csrf": "c" * 43}
    )
    header = (b"cookie", f"{demo_session.SESSION_COOKIE}={before}".encode())
    assert (
        demo_session.read_session(Request({"type": "http", "headers": [header]}), settings) is None
    )


def _link_before_the_kit(package_id: str, expires_at: datetime, secret_key: str) -> str:
    """A download link as the hand-made signer of packages/links.py made them."""
    key = hmac.new(secret_key.encode(), b"vigie-dpo-package-link-v1", hashlib.sha256).digest()
    message = f"{package_id}.{int(expires_at.timestamp())}"
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return f"{message}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


async def test_a_link_sent_before_the_kit_is_an_invalid_link_not_an_error(
    database_url: str, schema: str, kafka: str
) -> None:
    async with running_dpo(database_url, schema, kafka) as dpo:
        registered = await dpo.http.post(
            "/requests/registered",
            json={
                "request_type": "access",
                "requester": "courrier@example.org",
                "channel": "post",
                "received_at": datetime.now(UTC).isoformat(),
            },
            headers=dpo.officer(),
        )
        assert registered.status_code == 201, registered.text
        async with dpo.pool.acquire() as conn:
            package = await package_repository.insert(
                conn,
                package_id="p-before-the-kit",
                request_id=registered.json()["id"],
                filename="vigie.zip",
                content=b"PK",
                sha256=hashlib.sha256(b"PK").hexdigest(),
                expires_at=datetime.now(UTC) + timedelta(days=7),
            )
        old = _link_before_the_kit(package.id, package.expires_at, dpo.settings.secret_key)
        refused = await dpo.http.get(f"/packages/{old}")
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"] == "This download link is invalid or has expired."
        path = package_service.url(package, dpo.settings).removeprefix("http://dpo.test")
        downloaded = await dpo.http.get(path)
        assert downloaded.status_code == 200
        assert downloaded.content == b"PK"


def test_the_demo_client_secret_is_a_keyed_hash_of_the_kit() -> None:
    """``vigie up --demo`` derives its platforms' secrets; the kit gives the same value, so the
    CLI can call it without changing a registered demo secret."""
    expected = "vigie_cs_" + secrets.keyed_hash(SECRET, "demo-client:dpo-pages")[:43]
    assert demo_client_secret(SECRET, "dpo-pages") == expected
