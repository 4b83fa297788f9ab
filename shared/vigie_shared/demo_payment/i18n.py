"""French first (the institution's language), English on request: ``ui_locales`` (the OIDC
parameter the gateway takes as well, OIDC Core §3.1.2.1), remembered in a cookie, else the
browser's Accept-Language (RFC 9110 §12.5.4). Amounts and dates in the language's CLDR form."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.dates import format_datetime
from babel.numbers import format_currency
from fastapi import Request

from vigie_shared.demo_payment.session import LANG_COOKIE
from vigie_shared.kit.clock import PARIS

LANGS = ("fr", "en")
DEFAULT = "fr"
LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def asked(request: Request) -> str | None:
    """The language the visitor chose on this request, if any."""
    for tag in request.query_params.get("ui_locales", "").split():
        primary = tag.split("-")[0].lower()
        if primary in LANGS:
            return primary
    return None


def negotiate(request: Request) -> str:
    chosen = asked(request)
    if chosen is not None:
        return chosen
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGS:
        return remembered
    return _accept_language(request.headers.get("accept-language", ""))


def _accept_language(header: str) -> str:
    best, best_q = DEFAULT, -1.0
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q or (q == best_q and primary == DEFAULT):
            best, best_q = primary, q
    return best


def money(amount: Decimal, currency: str, lang: str) -> str:
    return str(format_currency(amount, currency, locale=LOCALES[lang]))


def when(moment: datetime, lang: str) -> str:
    return str(format_datetime(moment.astimezone(PARIS), "medium", locale=LOCALES[lang]))


TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "site": "Paiement en ligne — agence comptable",
        "demo": "Démonstration : aucun paiement réel n'est effectué.",
        "welcome": "Réglez ici les sommes dues à l'établissement. Connectez-vous avec votre"
        " compte de l'établissement.",
        "login": "Se connecter",
        "hello": "Connecté·e : {name}",
        "logout": "Se déconnecter",
        "debts_title": "Sommes dues",
        "no_debt": "Aucune somme n'est due à l'établissement.",
        "reminded": "relance du {date}",
        "exempted": "échéancier ou contestation en cours",
        "pay": "Payer {amount}",
        "paid_title": "Paiements enregistrés",
        "paid_on": "payé le {date}",
        "receipt_title": "Paiement enregistré",
        "receipt": "Paiement enregistré : {amount} ({debt}), le {date}.",
        "already_paid": "Cette somme était déjà payée : rien n'a été payé une seconde fois.",
        "restored": "Accès rétabli : vous pouvez de nouveau vous connecter aux plateformes de"
        " formation.",
        "waiting": "Votre accès aux plateformes de formation va être rétabli dans un instant."
        " Cette page se met à jour d'elle-même.",
        "still_suspended": "Votre accès reste suspendu : d'autres sommes restent dues.",
        "not_suspended": "Votre accès aux plateformes de formation n'est pas suspendu.",
        "back_platform": "Revenir à la plateforme de formation",
        "back_home": "Retour aux sommes dues",
        "error_title": "Erreur",
        "unknown_debt": "Cette somme n'existe pas ou n'est pas la vôtre.",
        "not_recorded_title": "Paiement non enregistré",
        "not_recorded": "Le paiement n'a pas pu être enregistré : rien n'a été payé. Réessayez"
        " dans un instant.",
        "form_expired_title": "Formulaire expiré",
        "form_expired": "Le jeton de sécurité du formulaire manque ou ne correspond pas."
        " Rechargez la page et recommencez.",
        "login_failed_title": "Connexion impossible",
        "login_failed": "La connexion n'a pas abouti ou a expiré. Recommencez.",
        "unconfigured": "Le client OIDC du portail n'est pas configuré (VIGIE_OIDC_CLIENT_SECRET).",
        "other_lang": "English",
    },
    "en": {
        "site": "Online payment — accounting office",
        "demo": "Demo: no real payment is made.",
        "welcome": "Pay what you owe the institution here. Log in with your institution account.",
        "login": "Log in",
        "hello": "Logged in: {name}",
        "logout": "Log out",
        "debts_title": "Amounts due",
        "no_debt": "You owe the institution nothing.",
        "reminded": "reminder of {date}",
        "exempted": "payment plan or dispute in progress",
        "pay": "Pay {amount}",
        "paid_title": "Recorded payments",
        "paid_on": "paid on {date}",
        "receipt_title": "Payment recorded",
        "receipt": "Payment recorded: {amount} ({debt}), on {date}.",
        "already_paid": "This amount was already paid: nothing was paid a second time.",
        "restored": "Access restored: you can log in to the training platforms again.",
        "waiting": "Your access to the training platforms will be restored in a moment. This"
        " page updates itself.",
        "still_suspended": "Your access stays suspended: other amounts are still due.",
        "not_suspended": "Your access to the training platforms is not suspended.",
        "back_platform": "Back to the training platform",
        "back_home": "Back to the amounts due",
        "error_title": "Error",
        "unknown_debt": "This amount does not exist or is not yours.",
        "not_recorded_title": "Payment not recorded",
        "not_recorded": "The payment could not be recorded: nothing was paid. Try again in a"
        " moment.",
        "form_expired_title": "Form expired",
        "form_expired": "The form's security token is missing or wrong. Reload the page and try"
        " again.",
        "login_failed_title": "Login failed",
        "login_failed": "The login did not complete or expired. Try again.",
        "unconfigured": "The portal's OIDC client is not configured (VIGIE_OIDC_CLIENT_SECRET).",
        "other_lang": "Français",
    },
}
