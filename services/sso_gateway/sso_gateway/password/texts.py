"""What the password page tells the person, by outcome (gettext messages, translated by the
gateway's catalogue like the login pages)."""

from __future__ import annotations

from sso_gateway.password.service import MIN_LENGTH, Refusal
from vigie_shared.kit.i18n import N_

TITLE = N_("Change your password")
CHANGED = N_("Your password is changed.")
THROTTLED = N_("Too many attempts. Try again in %(minutes)s min.")
OTHERS_SIGNED_OUT = N_("Your other sessions are signed out: %(count)s.")
REFUSED: dict[Refusal, str] = {
    Refusal.WRONG_CURRENT: N_("Your current password is incorrect."),
    Refusal.MISMATCH: N_("The two new passwords differ."),
    Refusal.TOO_SHORT: N_("The new password needs at least %(min)s characters."),
    Refusal.TOO_LONG: N_("The new password is too long."),
    Refusal.CHANGED_MEANWHILE: N_("Your password was changed meanwhile. Please try again."),
}
VALUES = {"min": str(MIN_LENGTH)}
