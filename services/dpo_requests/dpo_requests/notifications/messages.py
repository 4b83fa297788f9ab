"""What the service writes to people: French first by default, English after (the institution
writes in French; many learners abroad read English). ``lang="en"`` puts English first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Lang = Literal["fr", "en"]

REQUEST_TYPES: dict[str, tuple[str, str]] = {
    "access": ("d'accès (art. 15 RGPD)", "of access (GDPR Art. 15)"),
    "rectification": ("de rectification (art. 16 RGPD)", "to rectification (GDPR Art. 16)"),
    "erasure": ("d'effacement (art. 17 RGPD)", "to erasure (GDPR Art. 17)"),
    "restriction": ("de limitation (art. 18 RGPD)", "to restriction (GDPR Art. 18)"),
    "portability": ("de portabilité (art. 20 RGPD)", "to data portability (GDPR Art. 20)"),
    "objection": ("d'opposition (art. 21 RGPD)", "to object (GDPR Art. 21)"),
}


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


@dataclass(frozen=True)
class Notice:
    fr: Text
    en: Text

    def compose(self, lang: Lang = "fr") -> Text:
        first, second = (self.fr, self.en) if lang == "fr" else (self.en, self.fr)
        return Text(
            subject=f"{first.subject} / {second.subject}",
            body=f"{first.body}\n\n-- \n\n{second.body}\n",
        )


def one_time_code(code: str, minutes: int) -> Notice:
    return Notice(
        fr=Text(
            "Code de confirmation de votre demande RGPD",
            f"Votre code de confirmation : {code}\nIl est valable {minutes} minutes. Si vous"
            " n'avez fait aucune demande, ignorez ce message.",
        ),
        en=Text(
            "Confirmation code for your GDPR request",
            f"Your confirmation code: {code}\nIt is valid for {minutes} minutes. If you made"
            " no request, ignore this message.",
        ),
    )


def acknowledgement(request_id: str, request_type: str, due_on: date) -> Notice:
    """GDPR Art. 12(3): the answer is owed within one month of receipt; the date is told."""
    kind_fr, kind_en = REQUEST_TYPES.get(request_type, (request_type, request_type))
    return Notice(
        fr=Text(
            "Accusé de réception de votre demande RGPD",
            f"Votre demande {kind_fr} est enregistrée sous la référence {request_id}.\n"
            f"Nous y répondrons au plus tard le {due_on:%d/%m/%Y} (art. 12(3) RGPD).",
        ),
        en=Text(
            "Your GDPR request was received",
            f"Your request {kind_en} is recorded under the reference {request_id}.\n"
            f"We will answer by {due_on:%Y-%m-%d} at the latest (GDPR Art. 12(3)).",
        ),
    )
