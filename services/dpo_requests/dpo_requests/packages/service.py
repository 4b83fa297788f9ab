"""Data packages for access (GDPR Art. 15(3)) and portability (Art. 20(1)) requests.

One zip holds every system's export three ways: ``data.json`` for machines (Art. 20's
"structured, commonly used and machine-readable format"), one CSV per system and
``summary.html`` for people. A system that gave nothing (failed, late, done by hand) is listed
with what happened, so a partial result is explained rather than silently short.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol

from dpo_requests.config import Settings
from dpo_requests.packages import links
from dpo_requests.packages.repository import Package, PackageRepository, package_repository
from dpo_requests.tasks.repository import Task
from vigie_shared.kit.db import Conn
from vigie_shared.kit.http import Problem

_INVALID_LINK = "This download link is invalid or has expired."


class PackagedRequest(Protocol):
    """What a package says of its request (the requests feature's record)."""

    @property
    def id(self) -> str: ...
    @property
    def request_type(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def subject_id(self) -> str | None: ...


def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{path}[{index}]")
    else:
        yield path, "" if value is None else str(value)


def _system_entry(task: Task) -> dict[str, Any]:
    return {
        "action": task.action,
        "status": task.status,
        "answered_by": "the DPO, by hand" if task.manual else task.system,
        "data": task.data,
        "data_ref": task.data_ref,
        "note": task.note,
        "error": task.error,
    }


def _html(request: PackagedRequest, systems: dict[str, dict[str, Any]], now: datetime) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>Vos données — demande {e(request.id)}</title></head><body>",
        f"<h1>Vos données personnelles / Your personal data</h1>"
        f"<p>Demande {e(request.id)} ({e(request.request_type)}), reçue le "
        f"{request.received_at:%d/%m/%Y}, paquet produit le {now:%d/%m/%Y %H:%M} UTC.</p>",
        "<p>Fichiers : <code>data.json</code> (format structuré, art. 20 RGPD) et un fichier "
        "CSV par système.</p>",
    ]
    for name, entry in systems.items():
        parts.append(f"<h2>{e(name)}</h2>")
        if entry["status"] != "completed":
            parts.append(
                f"<p>Pas de données reçues de ce système ({e(entry['status'])}"
                f"{': ' + e(entry['error']) if entry['error'] else ''}).</p>"
            )
        if entry["note"]:
            parts.append(f"<p>Note du DPO : {e(entry['note'])}</p>")
        rows = list(_flatten(entry["data"] or {}))
        if rows:
            parts.append("<table><tr><th>champ</th><th>valeur</th></tr>")
            parts += [f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows]
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_zip(request: PackagedRequest, tasks: list[Task], now: datetime) -> bytes:
    systems = {task.system: _system_entry(task) for task in tasks}
    document = {
        "request": {
            "id": request.id,
            "type": request.request_type,
            "received_at": request.received_at.isoformat(),
            "subject_id": request.subject_id,
        },
        "generated_at": now.isoformat(),
        "systems": systems,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(document, indent=2, ensure_ascii=False))
        for name, entry in systems.items():
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(["field", "value"])
            writer.writerows(_flatten(entry["data"] or {}))
            archive.writestr(f"csv/{name}.csv", text.getvalue())
        archive.writestr("summary.html", _html(request, systems, now))
    return buffer.getvalue()


class PackageService:
    def __init__(self, repository: PackageRepository) -> None:
        self._repository = repository

    async def build(
        self,
        conn: Conn,
        request: PackagedRequest,
        tasks: list[Task],
        *,
        now: datetime,
        settings: Settings,
    ) -> Package:
        content = build_zip(request, tasks, now)
        return await self._repository.insert(
            conn,
            package_id=f"p-{uuid.uuid4().hex}",
            request_id=request.id,
            filename=f"vigie-{request.id}.zip",
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            expires_at=now + timedelta(days=settings.package_link_days),
        )

    async def of_request(self, conn: Conn, request_id: str) -> Package | None:
        return await self._repository.for_request(conn, request_id)

    def url(self, package: Package, settings: Settings) -> str:
        token = links.sign(package.id, package.expires_at, settings.secret_key)
        return f"{settings.public_url.rstrip('/')}/packages/{token}"

    async def download(
        self, conn: Conn, token: str, *, now: datetime, settings: Settings
    ) -> tuple[str, bytes]:
        try:
            package_id = links.verify(token, settings.secret_key, now=now)
        except links.InvalidLink as exc:
            # One answer for forged and expired links: nothing to learn by probing.
            raise Problem(404, "Not Found", _INVALID_LINK) from exc
        row = await self._repository.take_content(conn, package_id)
        if row is None or row.expires_at <= now:
            raise Problem(404, "Not Found", _INVALID_LINK)
        return row.filename, bytes(row.content)

    async def purge_expired(self, conn: Conn, *, now: datetime) -> int:
        return await self._repository.purge_expired(conn, now=now)


package_service = PackageService(package_repository)
