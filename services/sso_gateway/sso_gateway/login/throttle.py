"""Login throttling that slows a guesser without letting anyone lock an account's owner out
(OWASP Authentication Cheat Sheet, "Login Throttling"; OWASP "Slow Down Online Guessing
Attacks with Device Cookies").

Failures are counted per account, never per submitted name: the username and the e-mail of one
account share one budget, and a name that matches no account has a budget of its own, so
throttling reveals nothing about which names exist. Three buckets:

- this account from this browser (the recognised device, else this IP without one);
- every account tried from this IP without a recognised device (password spraying);
- this account from every browser it does not recognise (guessing spread over addresses).

Past a bucket's limit each further failure doubles the wait, up to the counting window. A
browser that once logged in to the account carries a signed device cookie: its attempts are
checked against its own bucket only, so a flood of failures from elsewhere (or from its own
network) never locks it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sso_gateway.config import Settings
from sso_gateway.login.repository import Bucket, Budgets
from vigie_shared.kit import secrets

DEVICE_COOKIE = "vigie_device"
DEVICE_PREFIX = "login-device"
"""What the device MAC's input starts with, apart from every other keyed hash under the
service secret. Device cookies live for days: their format stays as it was issued."""


@dataclass(frozen=True)
class Limits:
    own: int
    ip: int
    account: int
    base_delay: float
    window: float

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            own=settings.login_max_failures_per_account,
            ip=settings.login_max_failures_per_ip,
            account=settings.login_max_failures_per_account_any_ip,
            base_delay=settings.login_throttle_base_delay,
            window=float(settings.login_throttle_window),
        )


def _wait(bucket: Bucket, limit: int, limits: Limits, now: datetime) -> float:
    if bucket.failures < limit or bucket.last_failure is None:
        return 0.0
    delay = min(limits.window, limits.base_delay * 2.0 ** (bucket.failures - limit))
    return max(0.0, delay - (now - bucket.last_failure).total_seconds())


def wait_seconds(budgets: Budgets, limits: Limits, *, recognised: bool) -> float:
    """Seconds before this attempt may be checked; 0 when it may be now."""
    waits = [_wait(budgets.own, limits.own, limits, budgets.now)]
    if not recognised:
        waits.append(_wait(budgets.ip, limits.ip, limits, budgets.now))
        waits.append(_wait(budgets.account, limits.account, limits, budgets.now))
    return max(waits)


def _device_mac(settings: Settings, user_id: str, nonce: str) -> str:
    return secrets.keyed_hash(settings.secret_key, f"{DEVICE_PREFIX}:{user_id}:{nonce}")


def new_device_cookie(settings: Settings, user_id: str) -> str:
    """A cookie that proves this browser logged in to ``user_id``: a random nonce and its MAC
    bound to the account, so it is worth nothing for another account or once forged."""
    nonce = secrets.random_token(16)
    return f"{nonce}.{_device_mac(settings, user_id, nonce)}"


def recognised_device(settings: Settings, user_id: str | None, cookie: str | None) -> str | None:
    """The nonce of a device cookie issued to ``user_id``; None for any other cookie."""
    if user_id is None or not cookie or "." not in cookie:
        return None
    nonce, mac = cookie.split(".", 1)
    if secrets.same(_device_mac(settings, user_id, nonce), mac):
        return nonce
    return None
