"""Signed, expiring download links for data packages.

The token is ``<package id>.<expiry, Unix seconds>.<signature>``: itsdangerous' HMAC-SHA256
signer under a key derived for this purpose only (kit/secrets.py), checked in constant time.
The expiry is the package's own date, so it is part of the signed value.
The link is the capability: whoever holds it until it expires can download, which is why it is
short-lived and sent only to the requester. Links signed before the kit held the signer are
refused as any forged one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from vigie_shared.kit import secrets

LINK_PURPOSE = "dpo package link"


class InvalidLink(Exception):
    pass


def sign(package_id: str, expires_at: datetime, secret_key: str) -> str:
    return secrets.sign_value(
        secret_key, LINK_PURPOSE, f"{package_id}.{int(expires_at.timestamp())}"
    )


def verify(token: str, secret_key: str, *, now: datetime) -> str:
    """The package id of a genuine, unexpired token."""
    try:
        value = secrets.signed_value(secret_key, LINK_PURPOSE, token)
    except secrets.InvalidToken as exc:
        raise InvalidLink("bad signature") from exc
    package_id, _, expires = value.partition(".")
    if not (package_id and expires.isdigit()):
        raise InvalidLink("malformed link")
    if now >= datetime.fromtimestamp(int(expires), UTC):
        raise InvalidLink("link expired")
    return package_id
