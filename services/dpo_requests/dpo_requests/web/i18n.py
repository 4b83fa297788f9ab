"""French first (the institution's language), English available: ``?lang=en`` (remembered in a
cookie) or the browser's Accept-Language, negotiated by the kit (``vigie_shared.kit.i18n``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from jinja2 import FileSystemLoader

from dpo_requests import catalogue, request_types
from dpo_requests.web.session import LANG_COOKIE
from vigie_shared.kit.i18n import N_, PageLanguages

LANGS = catalogue.LANGS
# The pages' texts are gettext messages written in English, in the service's one catalogue
# (locale/fr/LC_MESSAGES/dpo_requests.po, see locale/README.md).
catalogues = catalogue.catalogues
pages = PageLanguages(
    catalogues, FileSystemLoader(Path(__file__).with_name("templates")), cookie=LANG_COOKIE
)


def negotiate(request: Request) -> str:
    return pages.negotiate(request)


# Each right's name and description on the pages, per language, as the templates read them
# (``REQUEST_TYPES[key][lang]`` is ``(label, description)``); the legal texts themselves, side
# by side in both languages, are the service's one table in ``dpo_requests.request_types``.
REQUEST_TYPES: dict[str, dict[str, tuple[str, str]]] = {
    key: {lang: (right.wording(lang).label, right.wording(lang).description) for lang in LANGS}
    for key, right in request_types.REQUEST_TYPES.items()
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
