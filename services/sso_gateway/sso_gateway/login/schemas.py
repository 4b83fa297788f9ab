"""Texts of the login pages: French by default, English available (``lang=en`` or
``ui_locales``, OIDC Core §3.1.2.1)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Connexion",
        "identifier": "Identifiant ou adresse électronique",
        "password": "Mot de passe",
        "submit": "Se connecter",
        "other_lang": "English",
        "bad_credentials": "Identifiant ou mot de passe incorrect.",
        "throttled": "Trop de tentatives de connexion. Réessayez dans {minutes} min.",
        "csrf": "La page a expiré. Veuillez réessayer.",
        "error_title": "Requête refusée",
        "logout_title": "Déconnexion",
        "logged_out": "Vous êtes déconnecté.",
        "confirm_logout": "Voulez-vous vous déconnecter de tous les services ?",
        "logout_button": "Se déconnecter",
        "signed_in": "Vous êtes connecté, {name}.",
    },
    "en": {
        "title": "Sign in",
        "identifier": "Username or e-mail address",
        "password": "Password",
        "submit": "Sign in",
        "other_lang": "Français",
        "bad_credentials": "Incorrect username or password.",
        "throttled": "Too many sign-in attempts. Try again in {minutes} min.",
        "csrf": "The page expired. Please try again.",
        "error_title": "Request refused",
        "logout_title": "Sign out",
        "logged_out": "You are signed out.",
        "confirm_logout": "Do you want to sign out of every service?",
        "logout_button": "Sign out",
        "signed_in": "You are signed in, {name}.",
    },
}


def pick_lang(*candidates: str | None) -> Lang:
    for candidate in candidates:
        for tag in (candidate or "").replace(",", " ").split():
            if tag.lower().startswith("en"):
                return "en"
            if tag.lower().startswith("fr"):
                return "fr"
    return "fr"
