"""End to end on the real broker and PostgreSQL: dpo_requests fans a learner's request out to
the example Moodle connector, a data system of the test's own, and one that never answers; the
late one becomes a manual task the DPO completes by hand, and the learner downloads a package
holding every system's data through its signed link."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import pytest_asyncio

from dpo_requests.connectors import moodle_example
from tests.dpo_requests.support import Dpo, running_dpo
from tests.fixtures.serving import eventually
from vigie_shared.events import DataSystemAnnounced, DpoTaskRequested, TaskAction, new_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.data_system import DataSystem
from vigie_shared.kit.db import Conn
from vigie_shared.kit.embedded import EmbeddedBroker
from vigie_shared.kit.kafka import Producer
from vigie_shared.kit.runtime import Runtime, ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

LEARNER = "u-camille"
TASK_TIMEOUT = 1.5


@dataclass
class Stack:
    dpo: Dpo
    moodle: Runtime
    transcripts: Runtime
    erased: list[str]


@pytest_asyncio.fixture(loop_scope="session")
async def schemas(database_url: str, schema: str) -> AsyncIterator[dict[str, str]]:
    names = {"dpo": schema, "moodle": f"{schema}_moodle", "transcripts": f"{schema}_tr"}
    yield names
    conn = await asyncpg.connect(database_url)
    try:
        for name in names.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def transcripts_system(erased: list[str]) -> DataSystem:
    """A data system of the test's own: the exam office's transcripts."""
    system = DataSystem("transcripts", description="exam office transcripts")

    @system.action(TaskAction.EXPORT)
    async def export(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        return {"transcripts": [{"year": 2025, "diploma": "DAEU A", "mention": "bien"}]}

    @system.action(TaskAction.ERASE)
    async def erase(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
        erased.append(task.subject_id)
        return {"erased": ["transcripts"], "kept": []}

    return system


@asynccontextmanager
async def stack(
    database_url: str, schemas: dict[str, str], broker: EmbeddedBroker
) -> AsyncIterator[Stack]:
    bootstrap = broker.bootstrap
    moodle = moodle_example.build(
        moodle_example.MoodleSettings(
            database_url=database_url, kafka_bootstrap=bootstrap, moodle_schema=schemas["moodle"]
        )
    )
    transcripts = Runtime(
        ServiceSpec(
            name="transcripts",
            schema=schemas["transcripts"],
            default_port=0,
            migrations=None,
            module="none",
            settings_factory=ServiceSettings,
        ),
        ServiceSettings(database_url=database_url, kafka_bootstrap=bootstrap),
    )
    erased: list[str] = []
    transcripts_system(erased).register(transcripts)
    async with AsyncExitStack() as exits:
        # Each start waits for its consumer group to form: start them side by side.
        dpo_context = running_dpo(
            database_url,
            schemas["dpo"],
            bootstrap,
            task_timeout_seconds=TASK_TIMEOUT,
            task_max_attempts=2,
        )
        dpo, *_ = await asyncio.gather(
            exits.enter_async_context(dpo_context), moodle.start(), transcripts.start()
        )
        exits.push_async_callback(moodle.stop)
        exits.push_async_callback(transcripts.stop)
        # A system that says it holds data, then never answers (its service is down).
        producer = Producer(bootstrap, client_id="silent")
        await producer.start()
        try:
            announced = DataSystemAnnounced(
                system="silent_archive", actions=[TaskAction.EXPORT, TaskAction.ERASE]
            )
            await producer.send_and_wait(
                encode(new_event(announced, subject="silent_archive", source="/test"))
            )
        finally:
            await producer.stop()
        async with moodle.pool.acquire() as conn:
            await moodle_example.enrol(
                conn,
                user_id=LEARNER,
                email="camille@example.org",
                firstname="Camille",
                lastname="Martin",
                courses={"MAT101": "Mathématiques <niveau 1>", "FR201": "Français"},
            )

        async def registered() -> set[str]:
            listed = await dpo.http.get("/data-systems", headers=dpo.officer())
            return {s["name"] for s in listed.json()}

        systems = await eventually(
            registered, until=lambda s: {"moodle", "transcripts", "silent_archive"} <= s
        )
        assert systems == {"moodle", "transcripts", "silent_archive"}
        yield Stack(dpo=dpo, moodle=moodle, transcripts=transcripts, erased=erased)


async def submit_and_verify(dpo: Dpo, request_type: str) -> str:
    created = await dpo.http.post(
        "/requests",
        json={"request_type": request_type},
        headers=dpo.learner(LEARNER, email="camille@example.org"),
    )
    assert created.status_code == 201, created.text
    request_id: str = created.json()["id"]
    verified = await dpo.http.post(
        f"/requests/{request_id}/verify", json={"method": "sso"}, headers=dpo.officer()
    )
    assert verified.status_code == 200, verified.text
    return request_id


async def tasks_by_system(dpo: Dpo, request_id: str) -> dict[str, dict[str, Any]]:
    detail = await dpo.http.get(f"/requests/{request_id}", headers=dpo.officer())
    return {t["system"]: t for t in detail.json()["tasks"]}


async def test_an_access_request_ends_in_a_package_with_every_systems_data(
    database_url: str, schemas: dict[str, str], private_broker: EmbeddedBroker
) -> None:
    async with stack(database_url, schemas, private_broker) as s:
        dpo = s.dpo
        request_id = await submit_and_verify(dpo, "access")
        tasks = await eventually(
            lambda: tasks_by_system(dpo, request_id),
            until=lambda t: (
                t["moodle"]["status"] == "completed"
                and t["transcripts"]["status"] == "completed"
                and t["silent_archive"]["status"] == "timed_out"
            ),
        )
        silent = tasks["silent_archive"]
        assert (silent["status"], silent["manual"], silent["attempts"]) == ("timed_out", True, 2)
        assert tasks["moodle"]["completed_by"] == "moodle"

        mine = await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner(LEARNER))
        assert mine.json()["status"] == "in_progress"
        assert mine.json()["result"] is None

        done = await dpo.http.post(
            f"/tasks/{silent['id']}/complete",
            json={
                "note": "serveur d'archives hors service ; dossier papier consulté",
                "data": {"boxes": ["B-12"]},
            },
            headers=dpo.officer(),
        )
        assert done.status_code == 200, done.text

        detail = (
            await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner(LEARNER))
        ).json()
        assert detail["status"] == "completed"
        assert detail["result"]["partial"] is False
        url = urlsplit(detail["result"]["package_url"])
        assert url.netloc == "dpo.test"
        other = await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner("u-other"))
        assert other.status_code == 404
        download = await dpo.http.get(url.path)
        assert download.status_code == 200, download.text
        assert download.headers["content-type"] == "application/zip"

        archive = zipfile.ZipFile(io.BytesIO(download.content))
        assert sorted(archive.namelist()) == [
            "csv/moodle.csv",
            "csv/silent_archive.csv",
            "csv/transcripts.csv",
            "data.json",
            "summary.html",
        ]
        document = json.loads(archive.read("data.json"))
        assert document["request"]["id"] == request_id
        systems = document["systems"]
        assert systems["moodle"]["data"]["account"]["email"] == "camille@example.org"
        assert [c["id"] for c in systems["moodle"]["data"]["courses"]] == ["FR201", "MAT101"]
        assert systems["transcripts"]["data"]["transcripts"][0]["diploma"] == "DAEU A"
        assert systems["silent_archive"]["answered_by"] == "the DPO, by hand"
        assert systems["silent_archive"]["data"] == {"boxes": ["B-12"]}
        moodle_csv = archive.read("csv/moodle.csv").decode()
        assert "account.lastname,Martin" in moodle_csv
        summary = archive.read("summary.html").decode()
        assert "Mathématiques &lt;niveau 1&gt;" in summary
        assert "dossier papier consulté" in summary

        forged = url.path[:-3] + ("AAA" if not url.path.endswith("AAA") else "BBB")
        assert (await dpo.http.get(forged)).status_code == 404
        mail = await dpo.pool.fetchval(
            "SELECT body FROM outgoing_emails WHERE recipient = 'camille@example.org'"
            " ORDER BY id DESC LIMIT 1"
        )
        assert url.path in mail
        completed = await dpo.events("vigie.dpo.request.completed", request_id)
        assert len(completed) == 1


async def test_an_erasure_request_is_confirmed_with_what_each_system_did(
    database_url: str, schemas: dict[str, str], private_broker: EmbeddedBroker
) -> None:
    async with stack(database_url, schemas, private_broker) as s:
        dpo = s.dpo
        request_id = await submit_and_verify(dpo, "erasure")
        tasks = await eventually(
            lambda: tasks_by_system(dpo, request_id),
            until=lambda t: (
                t["moodle"]["status"] == "completed"
                and t["transcripts"]["status"] == "completed"
                and t["silent_archive"]["status"] == "timed_out"
            ),
        )
        await dpo.http.post(
            f"/tasks/{tasks['silent_archive']['id']}/complete",
            json={"note": "rien à effacer dans l'archive"},
            headers=dpo.officer(),
        )
        detail = (
            await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner(LEARNER))
        ).json()
        assert detail["status"] == "completed"
        assert detail["result"]["package_url"] is None
        assert {o["system"]: o["outcome"] for o in detail["result"]["systems"]} == {
            "moodle": "done by moodle",
            "silent_archive": "done by hand: rien à effacer dans l'archive",
            "transcripts": "done by transcripts",
        }
        assert s.erased == [LEARNER]
        left = await s.moodle.pool.fetchval("SELECT count(*) FROM mdl_user WHERE id = $1", LEARNER)
        assert left == 0
        answered = await dpo.pool.fetchval(
            "SELECT data FROM tasks WHERE request_id = $1 AND system = 'moodle'", request_id
        )
        assert answered["deleted"]["mdl_forum_post"] == 2
