"""French first (the institution's language), English available: ``?lang=en`` (remembered in a
cookie) or the browser's Accept-Language, negotiated by the kit (``vigie_shared.kit.i18n``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from jinja2 import FileSystemLoader

from dpo_requests.web.session import LANG_COOKIE
from vigie_shared.kit.i18n import N_, Catalogues, PageLanguages

LANGS = ("fr", "en")
# The pages' texts are gettext messages written in English; locale/fr/LC_MESSAGES/
# dpo_requests.po translates them (see locale/README.md).
catalogues = Catalogues(Path(__file__).with_name("locale"), "dpo_requests", LANGS)
pages = PageLanguages(
    catalogues, FileSystemLoader(Path(__file__).with_name("templates")), cookie=LANG_COOKIE
)


def negotiate(request: Request) -> str:
    return pages.negotiate(request)


# Plain words for each right, with the GDPR article it comes from: legal texts kept side by
# side, as data, so that both versions are reviewed together.
REQUEST_TYPES: dict[str, dict[str, tuple[str, str]]] = {
    "access": {
        "fr": (
            "Accès à mes données (art. 15)",
            "Savoir quelles données l'établissement détient sur vous, pourquoi, et en recevoir "
            "une copie à télécharger.",
        ),
        "en": (
            "Access to my data (Art. 15)",
            "Find out what data the institution holds about you and why, and download a copy.",
        ),
    },
    "rectification": {
        "fr": (
            "Rectification (art. 16)",
            "Faire corriger des données inexactes ou incomplètes : indiquez ce qui doit changer.",
        ),
        "en": (
            "Rectification (Art. 16)",
            "Have inaccurate or incomplete data corrected: say what must change.",
        ),
    },
    "erasure": {
        "fr": (
            "Effacement (art. 17)",
            "Faire supprimer vos données quand rien n'oblige à les garder. Votre compte sera "
            "fermé et vous ne pourrez plus vous connecter.",
        ),
        "en": (
            "Erasure (Art. 17)",
            "Have your data deleted where nothing requires keeping it. Your account will be "
            "closed and you will no longer be able to log in.",
        ),
    },
    "restriction": {
        "fr": (
            "Limitation (art. 18)",
            "Geler l'utilisation de vos données, par exemple le temps de vérifier leur exactitude.",
        ),
        "en": (
            "Restriction (Art. 18)",
            "Freeze the use of your data, for instance while their accuracy is checked.",
        ),
    },
    "portability": {
        "fr": (
            "Portabilité (art. 20)",
            "Recevoir les données que vous avez fournies dans un format lisible par une "
            "machine, pour les transmettre ailleurs.",
        ),
        "en": (
            "Portability (Art. 20)",
            "Receive the data you provided in a machine-readable format, to take it elsewhere.",
        ),
    },
    "objection": {
        "fr": (
            "Opposition (art. 21)",
            "Vous opposer à un traitement de vos données fondé sur l'intérêt public ou "
            "légitime, ou à la prospection.",
        ),
        "en": (
            "Objection (Art. 21)",
            "Object to a processing of your data based on public or legitimate interest, or "
            "to direct marketing.",
        ),
    },
}

STATUSES: dict[str, str] = {
    "received": N_("Received"),
    "identity_pending": N_("Waiting for information"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "refused": N_("Refused"),
    "withdrawn": N_("Withdrawn"),
}

TASK_STATUSES: dict[str, str] = {
    "pending": N_("Pending"),
    "completed": N_("Done"),
    "failed": N_("Failed"),
    "timed_out": N_("No answer"),
}

TIMELINE: dict[str, str] = {
    "received": N_("Request received"),
    "identity_requested": N_("Identity information asked"),
    "identity_answer": N_("Requester's answer"),
    "identity_received": N_("Information received, clock restarted"),
    "verified": N_("Identity verified"),
    "extended": N_("Time limit extended"),
    "refused": N_("Request refused"),
    "withdrawn": N_("Request withdrawn"),
    "completed": N_("Request completed"),
    "task.requested": N_("Sent to a data system"),
    "task.manual": N_("Manual task created"),
    "task.completed": N_("System: done"),
    "task.failed": N_("System: failed"),
    "task.retried": N_("System asked again"),
    "task.timed_out": N_("System did not answer"),
    "task.completed_by_hand": N_("Task done by hand"),
}

REFUSAL_GROUNDS: dict[str, str] = {
    "manifestly_unfounded": N_("Manifestly unfounded (Art. 12(5))"),
    "excessive": N_("Excessive (Art. 12(5))"),
    "identity_not_established": N_("Identity not established (Art. 12(6))"),
    "exemption": N_("Legal exemption (Art. 23)"),
    "other": N_("Other ground"),
}

VERIFICATION_METHODS: dict[str, str] = {
    "sso": N_("SSO account"),
    "document": N_("Identity document"),
    "email_code": N_("E-mailed code"),
    "in_person": N_("In person"),
    "other": N_("Other"),
}

CHANNELS: dict[str, str] = {
    "online": N_("Online"),
    "post": N_("Post"),
    "email": N_("E-mail"),
}

CORRECTABLE: dict[str, str] = {
    "lastname": N_("Last name"),
    "firstname": N_("First name"),
    "display_name": N_("Display name"),
    "email": N_("E-mail address"),
    "postal_address": N_("Postal address"),
    "phone": N_("Phone"),
}


def gettext(lang: str, message: str, **values: object) -> str:
    return catalogues.gettext(lang, message, **values)


def label(table: dict[str, str], key: str, lang: str) -> str:
    """The name of ``key`` in ``table`` (a status, a channel...), in ``lang``."""
    message = table.get(key)
    return gettext(lang, message) if message else key
