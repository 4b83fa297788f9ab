"""The page a suspended learner sees at ``/authorize`` for a training platform: why access is
suspended, how to pay, that GDPR rights stay open, and the way back to the platform, which
carries the ``access_denied`` error to its verified redirect URI (RFC 6749 §4.1.2.1) so that
the platform is told as well."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

from sso_gateway.access.repository import AccessRepository, access_repository
from sso_gateway.login.pages import languages, render
from sso_gateway.login.texts import TEXTS, Lang
from vigie_shared.kit.db import Conn
from vigie_shared.kit.i18n import language_name


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
        other = languages.other(lang)
        switch = [(k, v) for k, v in query if k != "ui_locales"] + [("ui_locales", other)]
        return render(
            "access_suspended.html",
            403,
            lang=lang,
            title=TEXTS[lang]["suspended_title"],
            by_debt=bool(state is not None and state.debt_ids),
            platform=platform,
            return_url=return_url,
            reachable=[(p.name, p.home) for p in platforms],
            other_lang=other,
            other_lang_name=language_name(other),
            other_lang_query=urlencode(switch),
        )


suspended_page = SuspendedPage()
