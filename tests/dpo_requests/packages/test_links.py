"""Signed, expiring download links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dpo_requests.packages import links

SECRET = "a-test-secret-of-at-least-thirty-two-chars"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_signed_link_gives_back_its_package_until_it_expires() -> None:
    token = links.sign("p-1", NOW + timedelta(days=7), SECRET)
    assert links.verify(token, SECRET, now=NOW) == "p-1"
    with pytest.raises(links.InvalidLink, match="expired"):
        links.verify(token, SECRET, now=NOW + timedelta(days=7))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("p-1.", "p-2.", 1),
        lambda t: t.rsplit(".", 1)[0] + ".AAAA",
        lambda t: t.split(".")[0] + ".9999999999." + t.split(".")[2],
        lambda t: "garbage",
    ],
    ids=["other-package", "other-signature", "longer-expiry", "malformed"],
)
def test_a_tampered_link_is_refused(tamper: object) -> None:
    token = links.sign("p-1", NOW + timedelta(days=7), SECRET)
    assert callable(tamper)
    with pytest.raises(links.InvalidLink):
        links.verify(tamper(token), SECRET, now=NOW)


def test_a_link_signed_with_another_key_is_refused() -> None:
    token = links.sign("p-1", NOW + timedelta(days=7), "another-secret-of-thirty-two-chars!!")
    with pytest.raises(links.InvalidLink):
        links.verify(token, SECRET, now=NOW)
