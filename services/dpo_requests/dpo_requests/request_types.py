"""The six rights a person may exercise (GDPR Art. 15 to 18, 20 and 21), each in every form the
service writes it: its name on the pages, the page's plain description of it, and the phrase an
e-mail names it with ("votre demande d'accès (art. 15 RGPD)").

These are legal texts: each right's French and English stand side by side here, as data, so that
both are read, reviewed and changed together. A gettext catalogue would key the French by the
English and keep it in another file, where a changed English entry only turns its French fuzzy.
The pages (``web/i18n.py``) and the e-mails (``notifications/``) read this table only.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie_shared.events import RequestType


@dataclass(frozen=True)
class Wording:
    """One right in one language."""

    label: str
    """Its name on the pages, with its article."""
    description: str
    """What exercising it does, in plain words, on the request form."""
    mail_phrase: str
    """What follows "votre demande" / "your request" in an e-mail, with its article."""


@dataclass(frozen=True)
class Right:
    fr: Wording
    en: Wording

    def wording(self, lang: str) -> Wording:
        return self.en if lang == "en" else self.fr


# Keyed by the enum, read by its value (a StrEnum member is its string): the pages and the
# mails hold a request's type as the string stored with it.
REQUEST_TYPES: dict[str, Right] = {
    RequestType.ACCESS: Right(
        fr=Wording(
            "Accès à mes données (art. 15)",
            "Savoir quelles données l'établissement détient sur vous, pourquoi, et en recevoir "
            "une copie à télécharger.",
            "d'accès (art. 15 RGPD)",
        ),
        en=Wording(
            "Access to my data (Art. 15)",
            "Find out what data the institution holds about you and why, and download a copy.",
            "of access (GDPR Art. 15)",
        ),
    ),
    RequestType.RECTIFICATION: Right(
        fr=Wording(
            "Rectification (art. 16)",
            "Faire corriger des données inexactes ou incomplètes : indiquez ce qui doit changer.",
            "de rectification (art. 16 RGPD)",
        ),
        en=Wording(
            "Rectification (Art. 16)",
            "Have inaccurate or incomplete data corrected: say what must change.",
            "to rectification (GDPR Art. 16)",
        ),
    ),
    RequestType.ERASURE: Right(
        fr=Wording(
            "Effacement (art. 17)",
            "Faire supprimer vos données quand rien n'oblige à les garder. Votre compte sera "
            "fermé et vous ne pourrez plus vous connecter.",
            "d'effacement (art. 17 RGPD)",
        ),
        en=Wording(
            "Erasure (Art. 17)",
            "Have your data deleted where nothing requires keeping it. Your account will be "
            "closed and you will no longer be able to log in.",
            "to erasure (GDPR Art. 17)",
        ),
    ),
    RequestType.RESTRICTION: Right(
        fr=Wording(
            "Limitation (art. 18)",
            "Geler l'utilisation de vos données, par exemple le temps de vérifier leur exactitude.",
            "de limitation (art. 18 RGPD)",
        ),
        en=Wording(
            "Restriction (Art. 18)",
            "Freeze the use of your data, for instance while their accuracy is checked.",
            "to restriction (GDPR Art. 18)",
        ),
    ),
    RequestType.PORTABILITY: Right(
        fr=Wording(
            "Portabilité (art. 20)",
            "Recevoir les données que vous avez fournies dans un format lisible par une "
            "machine, pour les transmettre ailleurs.",
            "de portabilité (art. 20 RGPD)",
        ),
        en=Wording(
            "Portability (Art. 20)",
            "Receive the data you provided in a machine-readable format, to take it elsewhere.",
            "to data portability (GDPR Art. 20)",
        ),
    ),
    RequestType.OBJECTION: Right(
        fr=Wording(
            "Opposition (art. 21)",
            "Vous opposer à un traitement de vos données fondé sur l'intérêt public ou "
            "légitime, ou à la prospection.",
            "d'opposition (art. 21 RGPD)",
        ),
        en=Wording(
            "Objection (Art. 21)",
            "Object to a processing of your data based on public or legitimate interest, or "
            "to direct marketing.",
            "to object (GDPR Art. 21)",
        ),
    ),
}


def mail_phrase(request_type: str, lang: str) -> str:
    """How an e-mail in ``lang`` names the request; an unknown type by its key."""
    known = REQUEST_TYPES.get(request_type)
    return known.wording(lang).mail_phrase if known else request_type
