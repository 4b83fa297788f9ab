"""The reasons a SET gives (CAEP 1.0 §2: ``reason_admin`` for the receiver's operators,
``reason_user`` for the person), in every language of the gateway, keyed by language tag.

Written in English as gettext messages and translated by the gateway's catalogue, like its pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sso_gateway.login.pages import catalogues
from vigie_shared.kit.i18n import N_


@dataclass(frozen=True)
class Reason:
    initiating_entity: str
    """CAEP 1.0 §2: admin, user, policy or system."""
    admin: str
    user: str


SESSION_ENDED: dict[str, Reason] = {
    "logout": Reason("user", N_("The user signed out."), N_("You signed out.")),
    "suspension": Reason(
        "policy",
        N_("Session revoked: access suspended for an unpaid debt."),
        N_("Your session ended because your access to the training platforms is suspended."),
    ),
    "erasure": Reason(
        "user",
        N_("Session revoked: the account is erased at its holder's request (GDPR Art. 17)."),
        N_("Your session ended because your account is erased, as you asked."),
    ),
    "restriction": Reason(
        "admin",
        N_("Session revoked: processing of the account is restricted (GDPR Art. 18)."),
        N_("Your session ended because the use of your account is restricted."),
    ),
    "expiry": Reason("policy", N_("The session expired."), N_("Your session expired.")),
    "idle": Reason(
        "policy",
        N_("The session ended after a period without use."),
        N_("Your session ended because it was not used for a while."),
    ),
    "password_change": Reason(
        "user",
        N_("Session revoked: the user changed their password from another session."),
        N_("Your session ended because your password was changed."),
    ),
    "admin": Reason(
        "admin",
        N_("Session revoked by an administrator."),
        N_("Your session was ended by an administrator."),
    ),
    "password_reset": Reason(
        "admin",
        N_("Session revoked: an administrator reset the account's password."),
        N_("Your session ended because an administrator reset your password."),
    ),
}
SESSION_ENDED_OTHERWISE = Reason(
    "system", N_("The session was ended by the sign-in service."), N_("Your session ended.")
)

SUSPENDED_ADMIN = N_("Access suspended: %(reason)s")
SUSPENDED_USER = N_("Your access to the training platforms is suspended because of an unpaid debt.")
RESTORED_ADMIN = N_("Access restored: %(reason)s")
RESTORED_USER = N_("Your access to the training platforms is restored.")
PASSWORD_CHANGED = Reason(
    "user",
    N_("The user changed their password."),
    N_("You changed your password."),
)
PASSWORD_RESET = Reason(
    "admin",
    N_("An administrator reset the account's password: the previous one no longer works."),
    N_("An administrator reset your password: your previous one no longer works."),
)
PURGED_ADMIN = N_("Account erased at its holder's request (GDPR Art. 17).")
PURGED_USER = N_("Your account is erased, as you asked.")


def in_every_language(message: str, **values: str) -> dict[str, str]:
    """``{"en": ..., "fr": ...}``: one text per language tag (CAEP 1.0 §2)."""
    return {lang: catalogues.gettext(lang, message, **values) for lang in catalogues.languages}
