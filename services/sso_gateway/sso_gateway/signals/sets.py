"""Security Event Tokens (RFC 8417) as the Shared Signals Framework 1.0 profiles them: the
event types the gateway transmits, the subject identifiers (SSF §3, RFC 9493), and signing.

A SET's claims are fixed when the change happens (``jti``, ``iat``, ``txn``, the subject as it
was then: an erased account's address is gone a moment later); it is signed at each delivery,
with the key that signs then, so a retry after a key rotation carries a verifiable signature.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from joserfc import jwt

from sso_gateway.keys.service import KeyRing
from sso_gateway.signals.records import Subject

PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"
DELIVERY_METHODS = (PUSH, POLL)

_CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
_RISC = "https://schemas.openid.net/secevent/risc/event-type/"
_SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
SESSION_REVOKED = _CAEP + "session-revoked"
CREDENTIAL_CHANGE = _CAEP + "credential-change"
ACCOUNT_DISABLED = _RISC + "account-disabled"
ACCOUNT_ENABLED = _RISC + "account-enabled"
ACCOUNT_PURGED = _RISC + "account-purged"
VERIFICATION = _SSF + "verification"

EVENTS_SUPPORTED = (
    SESSION_REVOKED,
    CREDENTIAL_CHANGE,
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    ACCOUNT_PURGED,
)
"""What a stream may ask for; the verification event is always delivered (SSF §8.1.4)."""

SUBJECT_FORMATS = ("iss_sub", "email", "opaque")

SET_TYPE = "secevent+jwt"
"""RFC 8417 §2.3 explicit typing, so that a SET is never taken for an ID or access token."""


def subject_id(fmt: str, issuer: str, subject: Subject) -> dict[str, str]:
    """The account in a stream's chosen format (RFC 9493 §3.2)."""
    if fmt == "email":
        return {"format": "email", "email": subject.email}
    if fmt == "opaque":
        return {"format": "opaque", "id": subject.id}
    return {"format": "iss_sub", "iss": issuer, "sub": subject.id}


def session_subject(user: dict[str, str], session_id: str) -> dict[str, Any]:
    """A session of an account (CAEP 1.0 §3.1: session-revoked names the session; RFC 9493
    §3.3 ``complex``), the session by its ``sid``, as ID tokens carry it."""
    return {"format": "complex", "user": user, "session": {"format": "opaque", "id": session_id}}


def claims(
    *,
    issuer: str,
    audience: str,
    txn: str,
    sub_id: dict[str, Any],
    event_type: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """One SET (RFC 8417 §2.2, SSF §4): one event, ``sub_id`` at the top level and no ``sub``
    (SSF §4.1.2), ``txn`` tying it to the other SETs of the same change."""
    return {
        "iss": issuer,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        "iat": int(time.time()),
        "txn": txn,
        "sub_id": sub_id,
        "events": {event_type: payload},
    }


def sign(keyring: KeyRing, set_claims: dict[str, Any], alg: str) -> str:
    key = keyring.signing_key(alg)
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": SET_TYPE}, set_claims, key.key)
