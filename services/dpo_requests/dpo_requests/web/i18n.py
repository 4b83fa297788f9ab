"""French first (the institution's language), English available: ``?lang=en`` (remembered in a
cookie) or the browser's Accept-Language, negotiated by the kit (``vigie_shared.kit.i18n``)."""

from __future__ import annotations

from fastapi import Request

from dpo_requests.web.session import LANG_COOKIE
from vigie_shared.kit.i18n import best_of_accept_language
from vigie_shared.kit.i18n import negotiate as negotiate_language

LANGS = ("fr", "en")
DEFAULT = "fr"


def negotiate(request: Request) -> str:
    return negotiate_language(
        LANGS,
        explicit=(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)),
        accept_language=request.headers.get("accept-language"),
    )


def _accept_language(header: str) -> str:
    """RFC 9110 §12.5.4: the supported language with the highest weight; French on a tie."""
    return best_of_accept_language(header, LANGS) or DEFAULT


# Plain words for each right, with the GDPR article it comes from.
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

STATUSES = {
    "received": ("Reçue", "Received"),
    "identity_pending": ("En attente d'informations", "Waiting for information"),
    "in_progress": ("En cours", "In progress"),
    "completed": ("Traitée", "Completed"),
    "refused": ("Refusée", "Refused"),
    "withdrawn": ("Retirée", "Withdrawn"),
}

TASK_STATUSES = {
    "pending": ("En attente", "Pending"),
    "completed": ("Fait", "Done"),
    "failed": ("Échec", "Failed"),
    "timed_out": ("Sans réponse", "No answer"),
}

TIMELINE = {
    "received": ("Demande reçue", "Request received"),
    "identity_requested": ("Informations d'identité demandées", "Identity information asked"),
    "identity_answer": ("Réponse du demandeur", "Requester's answer"),
    "identity_received": ("Informations reçues, délai reparti", "Information received"),
    "verified": ("Identité vérifiée", "Identity verified"),
    "extended": ("Délai prolongé", "Time limit extended"),
    "refused": ("Demande refusée", "Request refused"),
    "withdrawn": ("Demande retirée", "Request withdrawn"),
    "completed": ("Demande traitée", "Request completed"),
    "task.requested": ("Demande envoyée à un système", "Sent to a data system"),
    "task.manual": ("Tâche manuelle créée", "Manual task created"),
    "task.completed": ("Système : fait", "System: done"),
    "task.failed": ("Système : échec", "System: failed"),
    "task.retried": ("Système relancé", "System asked again"),
    "task.timed_out": ("Système sans réponse", "System did not answer"),
    "task.completed_by_hand": ("Tâche faite à la main", "Task done by hand"),
}

REFUSAL_GROUNDS = {
    "manifestly_unfounded": ("Manifestement infondée (art. 12(5))", "Manifestly unfounded"),
    "excessive": ("Excessive (art. 12(5))", "Excessive (Art. 12(5))"),
    "identity_not_established": ("Identité non établie (art. 12(6))", "Identity not established"),
    "exemption": ("Exception légale (art. 23)", "Legal exemption (Art. 23)"),
    "other": ("Autre motif", "Other ground"),
}

VERIFICATION_METHODS = {
    "sso": ("Compte SSO", "SSO account"),
    "document": ("Pièce justificative", "Identity document"),
    "email_code": ("Code par courriel", "E-mailed code"),
    "in_person": ("En personne", "In person"),
    "other": ("Autre", "Other"),
}

CHANNELS = {
    "online": ("En ligne", "Online"),
    "post": ("Courrier postal", "Post"),
    "email": ("Courriel", "E-mail"),
}

# Fields a learner may ask to correct (what the data systems know how to rectify).
CORRECTABLE = {
    "lastname": ("Nom", "Last name"),
    "firstname": ("Prénom", "First name"),
    "display_name": ("Nom affiché", "Display name"),
    "email": ("Adresse électronique", "E-mail address"),
    "postal_address": ("Adresse postale", "Postal address"),
    "phone": ("Téléphone", "Phone"),
}


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "fr" else pair[1]


def label(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    pair = table.get(key)
    return pick(pair, lang) if pair else key
