"""The stored hash of an e-mailed code keeps its format, so that a code mailed before an upgrade
still matches after it.

The vector was computed with the hand-written HMAC the kit's ``keyed_hash`` replaced."""

from __future__ import annotations

from dpo_requests.intake.service import code_hash

SECRET = "vigie-test-vector-secret-of-32-chars-or-more"
SUBMISSION = "s-0123456789abcdef0123456789abcdef"
STORED = "99bda5e30b84a7531646fd5e4b083917e815d0ecd2a0fae8a09f138256f59869"


def test_a_code_stored_before_the_kit_still_matches() -> None:
    assert code_hash(SECRET, SUBMISSION, "042917") == STORED


def test_the_hash_is_bound_to_the_code_the_submission_and_the_secret() -> None:
    assert code_hash(SECRET, SUBMISSION, "042918") != STORED
    assert code_hash(SECRET, "s-" + "f" * 32, "042917") != STORED
    assert code_hash(SECRET[::-1], SUBMISSION, "042917") != STORED
