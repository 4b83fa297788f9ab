"""Example data system: a Moodle-like platform answering the DPO's tasks.

This is the template for a third party joining Vigie (see ``docs/data-systems.md``): declare a
:class:`~vigie_shared.kit.data_system.DataSystem`, one handler per GDPR action the platform can
carry out on its own data, and run it with the kit's :class:`~vigie_shared.kit.runtime.Runtime`
(its schema, outbox and inbox). It announces itself to dpo_requests at start-up, answers each
task once (inbox), and its answer leaves through its outbox in the same transaction as the
effect. Run it with ``python -m dpo_requests.connectors.moodle_example``.

Its SQL stays beside the handlers rather than in a repository: it reads the platform's own
tables, not Vigie's, the whole example is one file to copy, and each row goes straight into the
JSON answer the task returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

from pydantic import Field

from vigie_shared.events import DpoTaskRequested, TaskAction
from vigie_shared.kit.data_system import DataSystem
from vigie_shared.kit.db import Conn
from vigie_shared.kit.runtime import Runtime, ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("moodle_migrations")
# GDPR Art. 16: only what the platform holds and the learner may correct.
RECTIFIABLE = ("firstname", "lastname", "email")


class MoodleSettings(ServiceSettings):
    moodle_schema: str = Field("moodle", description="Schema of the example platform's tables.")


moodle = DataSystem("moodle", description="Example Moodle-like platform: courses, grades, posts")


@moodle.action(TaskAction.EXPORT)
async def export(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
    """GDPR Art. 15: everything the platform holds about the learner."""
    user = await conn.fetchrow(
        "SELECT id, username, email, firstname, lastname, restricted, objected, created_at"
        " FROM mdl_user WHERE id = $1",
        task.subject_id,
    )
    if user is None:
        return {"account": None}
    courses = await conn.fetch(
        "SELECT c.id, c.fullname, e.enrolled_at FROM mdl_enrol e"
        " JOIN mdl_course c ON c.id = e.course_id WHERE e.user_id = $1 ORDER BY c.id",
        task.subject_id,
    )
    grades = await conn.fetch(
        "SELECT course_id, item, grade FROM mdl_grade WHERE user_id = $1 ORDER BY course_id, item",
        task.subject_id,
    )
    posts = await conn.fetch(
        "SELECT course_id, posted_at, message FROM mdl_forum_post WHERE user_id = $1"
        " ORDER BY posted_at",
        task.subject_id,
    )
    return {
        "account": {**dict(user), "created_at": user["created_at"].isoformat()},
        "courses": [
            {"id": c["id"], "name": c["fullname"], "enrolled_at": c["enrolled_at"].isoformat()}
            for c in courses
        ],
        "grades": [
            {"course": g["course_id"], "item": g["item"], "grade": str(g["grade"])} for g in grades
        ],
        "forum_posts": [
            {"course": p["course_id"], "at": p["posted_at"].isoformat(), "message": p["message"]}
            for p in posts
        ],
    }


@moodle.action(TaskAction.ERASE)
async def erase(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
    """GDPR Art. 17: nothing held is not a refusal, just nothing to erase."""
    deleted = {}
    for table in ("mdl_forum_post", "mdl_grade", "mdl_enrol", "mdl_user"):
        column = "id" if table == "mdl_user" else "user_id"
        status = await conn.execute(
            f"DELETE FROM {table} WHERE {column} = $1",  # noqa: S608 - fixed table names
            task.subject_id,
        )
        deleted[table] = int(status.split()[-1])
    return {"deleted": deleted}


@moodle.action(TaskAction.RECTIFY)
async def rectify(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
    """GDPR Art. 16: correct the fields the platform holds; say which were not its own."""
    corrections = task.corrections or {}
    applied = []
    for name in RECTIFIABLE:
        if name in corrections:
            status = await conn.execute(
                f"UPDATE mdl_user SET {name} = $2 WHERE id = $1",  # noqa: S608 - whitelisted
                task.subject_id,
                str(corrections[name]),
            )
            if status != "UPDATE 0":
                applied.append(name)
    return {"rectified": applied, "not_held": sorted(set(corrections) - set(RECTIFIABLE))}


@moodle.action(TaskAction.RESTRICT)
async def restrict(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
    """GDPR Art. 18: keep the data but stop processing it."""
    status = await conn.execute(
        "UPDATE mdl_user SET restricted = true WHERE id = $1", task.subject_id
    )
    return {"restricted": status != "UPDATE 0"}


@moodle.action(TaskAction.OBJECT)
async def object_(conn: Conn, task: DpoTaskRequested) -> dict[str, Any]:
    """GDPR Art. 21: out of learning analytics (legitimate-interest processing)."""
    status = await conn.execute(
        "UPDATE mdl_user SET objected = true WHERE id = $1", task.subject_id
    )
    return {"objected": status != "UPDATE 0"}


async def enrol(
    conn: Conn,
    *,
    user_id: str,
    email: str,
    firstname: str,
    lastname: str,
    courses: dict[str, str],
) -> None:
    """Fake course data for one learner (demo and tests)."""
    await conn.execute(
        "INSERT INTO mdl_user (id, username, email, firstname, lastname)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        user_id,
        email.split("@")[0],
        email,
        firstname,
        lastname,
    )
    for course_id, name in courses.items():
        await conn.execute(
            "INSERT INTO mdl_course (id, fullname) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            course_id,
            name,
        )
        await conn.execute(
            "INSERT INTO mdl_enrol (user_id, course_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            user_id,
            course_id,
        )
        await conn.execute(
            "INSERT INTO mdl_grade (user_id, course_id, item, grade) VALUES ($1, $2, 'final', 14.5)"
            " ON CONFLICT DO NOTHING",
            user_id,
            course_id,
        )
        await conn.execute(
            "INSERT INTO mdl_forum_post (user_id, course_id, message) VALUES ($1, $2, $3)",
            user_id,
            course_id,
            f"Bonjour, une question sur {name}",
        )


def build(settings: MoodleSettings) -> Runtime:
    """The connector's runtime: its own schema, outbox and inbox, and the ``moodle`` system."""
    spec = ServiceSpec(
        name="moodle_example",
        schema=settings.moodle_schema,
        default_port=0,
        migrations=MIGRATIONS,
        module="dpo_requests.connectors.moodle_example",
        settings_factory=MoodleSettings,
    )
    runtime = Runtime(spec, settings)
    moodle.register(runtime)
    return runtime


async def run(settings: MoodleSettings) -> None:
    runtime = build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    log.info("moodle example connector answering DPO tasks")
    try:
        await stop.wait()
    finally:
        await runtime.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    asyncio.run(run(MoodleSettings()))


if __name__ == "__main__":
    main()
