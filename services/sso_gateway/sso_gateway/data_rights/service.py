"""The gateway as a data system for the DPO (docs/architecture.md: a learner's login
history is personal data): export (GDPR Art. 15/20), erase (Art. 17), rectify (Art. 16), restrict
(Art. 18). Each runs in the transaction of the consumer that received the task."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import asyncpg
from pydantic import EmailStr, TypeAdapter, ValidationError

from sso_gateway.config import SOURCE, Settings
from sso_gateway.data_rights.records import LoginEntry, Profile, SessionEntry
from sso_gateway.data_rights.repository import DataRightsRepository, data_rights_repository
from sso_gateway.sessions.service import sessions
from sso_gateway.signals.service import signals
from vigie_shared.events import (
    DpoTaskRequested,
    TaskAction,
    UserErased,
    UserRectified,
    new_event,
)
from vigie_shared.kit import outbox
from vigie_shared.kit.data_system import DataSystem, TaskRefused
from vigie_shared.kit.db import Conn

RECTIFIABLE = ("email", "display_name", "username")
_email = TypeAdapter(EmailStr)


def _jsonable(stored: Profile | LoginEntry | SessionEntry) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(stored).items()}


class DataRightsService:
    def __init__(self, repository: DataRightsRepository) -> None:
        self._repository = repository

    async def export(self, conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        profile = await self._repository.profile(conn, task.subject_id)
        if profile is None:
            return {"found": False}
        session_rows = await self._repository.sessions(conn, task.subject_id)
        return {
            "found": True,
            "profile": _jsonable(profile),
            "login_history": [
                _jsonable(r) for r in await self._repository.login_history(conn, task.subject_id)
            ],
            "sessions": [_jsonable(r) for r in session_rows],
            "platforms_used": sorted({p for r in session_rows for p in r.platforms}),
            # Platforms are the institution's own services: sign-in asks for no consent, so
            # there is none on record.
            "consents": [],
        }

    async def erase(self, conn: Conn, settings: Settings, task: DpoTaskRequested) -> dict[str, Any]:
        profile = await self._repository.profile(conn, task.subject_id)
        if profile is None or profile.erased_at is not None:
            return {"erased": False, "reason": "no such account, or already erased"}
        # Sessions first: their revocation tells each platform by back-channel logout.
        revoked = await sessions.revoke_all(conn, settings, task.subject_id, "erasure")
        # Before the account is anonymised: the SET names it as the receivers know it.
        await signals.account_purged(conn, settings, user_id=task.subject_id)
        await self._repository.anonymise(conn, task.subject_id)
        await outbox.enqueue(
            conn,
            new_event(
                UserErased(user_id=task.subject_id, request_id=task.request_id),
                subject=task.subject_id,
                source=SOURCE,
            ),
        )
        return {"erased": True, "sessions_revoked": revoked}

    async def rectify(self, conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        corrections = task.corrections or {}
        unknown = sorted(set(corrections) - set(RECTIFIABLE))
        if unknown or not corrections:
            raise TaskRefused(f"cannot rectify {', '.join(unknown) or 'nothing'} here")
        if "email" in corrections:
            try:
                _email.validate_python(corrections["email"])
            except ValidationError as exc:
                raise TaskRefused("the corrected e-mail address is not valid") from exc
        if await self._repository.profile(conn, task.subject_id) is None:
            raise TaskRefused("no such account")
        try:
            await self._repository.rectify(conn, task.subject_id, corrections)
        except asyncpg.UniqueViolationError as exc:
            raise TaskRefused(
                "the corrected e-mail or username belongs to another account"
            ) from exc
        fields = sorted(corrections)
        await outbox.enqueue(
            conn,
            new_event(
                UserRectified(user_id=task.subject_id, fields=fields, request_id=task.request_id),
                subject=task.subject_id,
                source=SOURCE,
            ),
        )
        return {"rectified": fields}

    async def restrict(
        self, conn: Conn, settings: Settings, task: DpoTaskRequested
    ) -> dict[str, Any]:
        if await self._repository.profile(conn, task.subject_id) is None:
            raise TaskRefused("no such account")
        await self._repository.restrict(conn, task.subject_id)
        revoked = await sessions.revoke_all(conn, settings, task.subject_id, "restriction")
        return {"restricted": True, "sessions_revoked": revoked}


data_rights = DataRightsService(data_rights_repository)


def data_system(settings: Settings) -> DataSystem:
    system = DataSystem(
        "sso_gateway", description="Accounts, login history and sessions of the SSO gateway"
    )

    @system.action(TaskAction.EXPORT)
    async def export(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return await data_rights.export(conn, task)

    @system.action(TaskAction.ERASE)
    async def erase(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return await data_rights.erase(conn, settings, task)

    @system.action(TaskAction.RECTIFY)
    async def rectify(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return await data_rights.rectify(conn, task)

    @system.action(TaskAction.RESTRICT)
    async def restrict(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return await data_rights.restrict(conn, settings, task)

    return system
