"""Every e-mail the service sends, in both orders of its languages and for every request type
(and one it does not know): the exact subject and body, as they were written before the texts
moved to templates and the catalogue. A change of wording must change these values too, so
that it is reviewed here in both languages."""

from __future__ import annotations

from datetime import date
from typing import Final

import pytest

from dpo_requests.notifications import messages
from dpo_requests.web import i18n

KINDS = ("access", "rectification", "erasure", "restriction", "portability", "objection")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_one_time_code_mail_is_as_written(lang: messages.Lang) -> None:
    text = messages.one_time_code("042917", 15).compose(lang)
    assert (text.subject, text.body) == MAILS[("one_time_code", lang)]


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("kind", [*KINDS, "unknown_kind"])
def test_the_acknowledgement_mail_is_as_written(kind: str, lang: messages.Lang) -> None:
    text = messages.acknowledgement("DSR-2026-0007", kind, date(2026, 3, 5)).compose(lang)
    assert (text.subject, text.body) == MAILS[("acknowledgement", kind, lang)]


def test_the_pages_name_and_describe_each_request_type_as_written() -> None:
    assert i18n.REQUEST_TYPES == PAGE_REQUEST_TYPES
    assert tuple(i18n.REQUEST_TYPES) == KINDS


MAILS: Final = {
    ("one_time_code", "fr"): (
        "Code de confirmation de votre demande RGPD / Confirmation code for your GDPR request",
        "Votre code de confirmation : 042917\n"
        "Il est valable 15 minutes. Si vous n'avez fait aucune demande, "
        "ignorez ce message.\n"
        "\n"
        "-- \n"
        "\n"
        "Your confirmation code: 042917\n"
        "It is valid for 15 minutes. If you made no request, ignore this "
        "message.\n",
    ),
    ("acknowledgement", "access", "fr"): (
        "Accusé de réception de votre demande RGPD / Your GDPR request was received",
        "Votre demande d'accès (art. 15 RGPD) est enregistrée "
        "sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 (art. "
        "12(3) RGPD).\n"
        "\n"
        "-- \n"
        "\n"
        "Your request of access (GDPR Art. 15) is recorded "
        "under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR Art. "
        "12(3)).\n",
    ),
    ("acknowledgement", "rectification", "fr"): (
        "Accusé de réception de votre demande RGPD / Your GDPR request was received",
        "Votre demande de rectification (art. 16 RGPD) "
        "est enregistrée sous la référence "
        "DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n"
        "\n"
        "-- \n"
        "\n"
        "Your request to rectification (GDPR Art. 16) is "
        "recorded under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest "
        "(GDPR Art. 12(3)).\n",
    ),
    ("acknowledgement", "erasure", "fr"): (
        "Accusé de réception de votre demande RGPD / Your GDPR request was received",
        "Votre demande d'effacement (art. 17 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 (art. "
        "12(3) RGPD).\n"
        "\n"
        "-- \n"
        "\n"
        "Your request to erasure (GDPR Art. 17) is recorded "
        "under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR Art. "
        "12(3)).\n",
    ),
    ("acknowledgement", "restriction", "fr"): (
        "Accusé de réception de votre demande RGPD / Your GDPR request was received",
        "Votre demande de limitation (art. 18 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n"
        "\n"
        "-- \n"
        "\n"
        "Your request to restriction (GDPR Art. 18) is "
        "recorded under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n",
    ),
    ("acknowledgement", "portability", "fr"): (
        "Accusé de réception de votre demande RGPD / Your GDPR request was received",
        "Votre demande de portabilité (art. 20 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n"
        "\n"
        "-- \n"
        "\n"
        "Your request to data portability (GDPR Art. 20) "
        "is recorded under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n",
    ),
    ("acknowledgement", "objection", "fr"): (
        "Accusé de réception de votre demande RGPD / Your GDPR request was received",
        "Votre demande d'opposition (art. 21 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 (art. "
        "12(3) RGPD).\n"
        "\n"
        "-- \n"
        "\n"
        "Your request to object (GDPR Art. 21) is recorded "
        "under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n",
    ),
    ("acknowledgement", "unknown_kind", "fr"): (
        "Accusé de réception de votre demande RGPD / Your GDPR request was received",
        "Votre demande unknown_kind est enregistrée sous "
        "la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n"
        "\n"
        "-- \n"
        "\n"
        "Your request unknown_kind is recorded under the "
        "reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n",
    ),
    ("one_time_code", "en"): (
        "Confirmation code for your GDPR request / Code de confirmation de votre demande RGPD",
        "Your confirmation code: 042917\n"
        "It is valid for 15 minutes. If you made no request, ignore this "
        "message.\n"
        "\n"
        "-- \n"
        "\n"
        "Votre code de confirmation : 042917\n"
        "Il est valable 15 minutes. Si vous n'avez fait aucune demande, "
        "ignorez ce message.\n",
    ),
    ("acknowledgement", "access", "en"): (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD",
        "Your request of access (GDPR Art. 15) is recorded "
        "under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR Art. "
        "12(3)).\n"
        "\n"
        "-- \n"
        "\n"
        "Votre demande d'accès (art. 15 RGPD) est enregistrée "
        "sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 (art. "
        "12(3) RGPD).\n",
    ),
    ("acknowledgement", "rectification", "en"): (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD",
        "Your request to rectification (GDPR Art. 16) is "
        "recorded under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest "
        "(GDPR Art. 12(3)).\n"
        "\n"
        "-- \n"
        "\n"
        "Votre demande de rectification (art. 16 RGPD) "
        "est enregistrée sous la référence "
        "DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n",
    ),
    ("acknowledgement", "erasure", "en"): (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD",
        "Your request to erasure (GDPR Art. 17) is recorded "
        "under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR Art. "
        "12(3)).\n"
        "\n"
        "-- \n"
        "\n"
        "Votre demande d'effacement (art. 17 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 (art. "
        "12(3) RGPD).\n",
    ),
    ("acknowledgement", "restriction", "en"): (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD",
        "Your request to restriction (GDPR Art. 18) is "
        "recorded under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n"
        "\n"
        "-- \n"
        "\n"
        "Votre demande de limitation (art. 18 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n",
    ),
    ("acknowledgement", "portability", "en"): (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD",
        "Your request to data portability (GDPR Art. 20) "
        "is recorded under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n"
        "\n"
        "-- \n"
        "\n"
        "Votre demande de portabilité (art. 20 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n",
    ),
    ("acknowledgement", "objection", "en"): (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD",
        "Your request to object (GDPR Art. 21) is recorded "
        "under the reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n"
        "\n"
        "-- \n"
        "\n"
        "Votre demande d'opposition (art. 21 RGPD) est "
        "enregistrée sous la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 (art. "
        "12(3) RGPD).\n",
    ),
    ("acknowledgement", "unknown_kind", "en"): (
        "Your GDPR request was received / Accusé de réception de votre demande RGPD",
        "Your request unknown_kind is recorded under the "
        "reference DSR-2026-0007.\n"
        "We will answer by 2026-03-05 at the latest (GDPR "
        "Art. 12(3)).\n"
        "\n"
        "-- \n"
        "\n"
        "Votre demande unknown_kind est enregistrée sous "
        "la référence DSR-2026-0007.\n"
        "Nous y répondrons au plus tard le 05/03/2026 "
        "(art. 12(3) RGPD).\n",
    ),
}

PAGE_REQUEST_TYPES: Final = {
    "access": {
        "fr": (
            "Accès à mes données (art. 15)",
            "Savoir quelles données l'établissement détient sur vous, pourquoi, et en "
            "recevoir une copie à télécharger.",
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
            "Faire supprimer vos données quand rien n'oblige à les garder. Votre "
            "compte sera fermé et vous ne pourrez plus vous connecter.",
        ),
        "en": (
            "Erasure (Art. 17)",
            "Have your data deleted where nothing requires keeping it. Your account "
            "will be closed and you will no longer be able to log in.",
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
            "Recevoir les données que vous avez fournies dans un format lisible "
            "par une machine, pour les transmettre ailleurs.",
        ),
        "en": (
            "Portability (Art. 20)",
            "Receive the data you provided in a machine-readable format, to take it elsewhere.",
        ),
    },
    "objection": {
        "fr": (
            "Opposition (art. 21)",
            "Vous opposer à un traitement de vos données fondé sur l'intérêt public "
            "ou légitime, ou à la prospection.",
        ),
        "en": (
            "Objection (Art. 21)",
            "Object to a processing of your data based on public or legitimate "
            "interest, or to direct marketing.",
        ),
    },
}
