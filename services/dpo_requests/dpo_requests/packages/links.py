"""Signed, expiring download links for data packages.

The token is ``<package id>.<expiry, Unix seconds>.<HMAC-SHA256>`` (base64url, unpadded) under
a key derived from ``VIGIE_SECRET_KEY`` for this purpose only; it is checked in constant time
(STYLE.md rule 8). The link is the capability: whoever holds it until it expires can download,
which is why it is short-lived and sent only to the requester.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

_PURPOSE = b"vigie-dpo-package-link-v1"


class InvalidLink(Exception):
    pass


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(secret_key: str, message: str) -> str:
    digest = hmac.new(_key(secret_key), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(package_id: str, expires_at: datetime, secret_key: str) -> str:
    message = f"{package_id}.{int(expires_at.timestamp())}"
    return f"{message}.{_signature(secret_key, message)}"


def verify(token: str, secret_key: str, *, now: datetime) -> str:
    """The package id of a genuine, unexpired token."""
    package_id, _, rest = token.partition(".")
    expires, _, signature = rest.partition(".")
    if not (package_id and expires.isdigit() and signature):
        raise InvalidLink("malformed link")
    expected = _signature(secret_key, f"{package_id}.{expires}")
    if not hmac.compare_digest(expected, signature):
        raise InvalidLink("bad signature")
    if now >= datetime.fromtimestamp(int(expires), UTC):
        raise InvalidLink("link expired")
    return package_id
