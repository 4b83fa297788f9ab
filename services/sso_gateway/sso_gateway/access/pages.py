"""The page a suspended learner sees at ``/authorize`` for a training platform (issue 4, point
3): why access is suspended, how to pay, that GDPR rights stay open, and the way back to the
platform, which carries the ``access_denied`` error to its verified redirect URI (RFC 6749
§4.1.2.1) so that the platform is told as well."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

from sso_gateway.access.repository import AccessRepository, access_repository
from sso_gateway.login.pages import render
from sso_gateway.login.schemas import Lang
from vigie_shared.kit.db import Conn

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Accès suspendu",
        "reason_debt": "Votre accès aux plateformes de formation est suspendu : une somme due"
        " à l'établissement reste impayée plus de huit jours après la relance qui vous a été"
        " adressée.",
        "reason_office": "Votre accès aux plateformes de formation est suspendu par décision"
        " de l'agence comptable.",
        "platform_told": "« {platform} » est informée que l'accès lui est refusé.",
        "pay_title": "Régulariser votre situation",
        "pay": "Le paiement en ligne reste accessible avec votre compte. Dès que le paiement est"
        " enregistré par l'agence comptable, votre accès est rétabli automatiquement. Pour un"
        " échéancier ou une contestation, contactez l'agence comptable.",
        "rights_title": "Vos droits sur vos données",
        "rights": "La suspension ne limite pas vos droits au titre du RGPD (accès, rectification,"
        " effacement, limitation, opposition) : vous pouvez toujours déposer et suivre vos"
        " demandes.",
        "reachable": "Restent accessibles :",
        "back": "Revenir à « {platform} »",
        "other_lang": "English",
    },
    "en": {
        "title": "Access suspended",
        "reason_debt": "Your access to the training platforms is suspended: an amount owed to"
        " the institution is still unpaid more than eight days after the reminder you were"
        " sent.",
        "reason_office": "Your access to the training platforms is suspended by a decision of"
        " the accounting office.",
        "platform_told": "“{platform}” is told that access is refused.",
        "pay_title": "Settle your account",
        "pay": "Online payment is still available with your account. As soon as the accounting"
        " office records the payment, your access is restored automatically. For a payment"
        " plan or a dispute, contact the accounting office.",
        "rights_title": "Your rights over your data",
        "rights": "The suspension does not limit your rights under the GDPR (access,"
        " rectification, erasure, restriction, objection): you can still submit and follow"
        " your requests.",
        "reachable": "Still available:",
        "back": "Back to “{platform}”",
        "other_lang": "Français",
    },
}


class SuspendedPage:
    def __init__(self, repository: AccessRepository = access_repository) -> None:
        self._repository = repository

    async def render(
        self,
        conn: Conn,
        *,
        learner_id: str,
        lang: Lang,
        platform: str,
        return_url: str,
        query: list[tuple[str, str]],
    ) -> HTMLResponse:
        """403: the learner is authenticated but refused this platform (RFC 9110 §15.5.4).
        ``return_url`` must be the error redirect to the client's *verified* redirect URI."""
        state = await self._repository.get_state(conn, learner_id)
        platforms = await self._repository.reachable_platforms(conn)
        other = "en" if lang == "fr" else "fr"
        switch = [(k, v) for k, v in query if k != "ui_locales"] + [("ui_locales", other)]
        return render(
            "access_suspended.html",
            403,
            lang=lang,
            t=TEXTS[lang],
            title=TEXTS[lang]["title"],
            by_debt=bool(state is not None and state["debt_ids"]),
            platform=platform,
            return_url=return_url,
            reachable=[(p.name, p.home) for p in platforms],
            other_lang=other,
            other_lang_query=urlencode(switch),
        )


suspended_page = SuspendedPage()
