"""``vigie dlq list`` and ``vigie dlq replay``: the dead letters each service's consumers kept
(``kit.dead_letters``), read from its schema's ``dead_letters`` table, and published again to
their original topic once the cause is fixed (the consumers' inboxes make a replay of an event
already applied change nothing).

Both find the stack as every administration command does (``kit.stack_file``). A replay is a
write to the original topic: on a broker with ACLs (``kit.kafka_acls``) it logs in as the
``VIGIE_KAFKA_USERNAME`` the operator gives, which must be a writer of that topic (a billing
event is the accounting principal's to write again); a refused write is said in one line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import asyncpg
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from vigie_shared.kit import db
from vigie_shared.kit.dead_letters import (
    DeadLetter,
    NotReplayable,
    dead_letter_repository,
    replay,
)
from vigie_shared.kit.kafka import KafkaCredentials, Producer, service_login
from vigie_shared.kit.runtime import discover
from vigie_shared.kit.settings import ServiceSettings
from vigie_shared.kit.stack_file import add_stack_arguments, stack_command

_REASON_CHARS = 120


def _schemas(args: argparse.Namespace) -> list[str]:
    if args.schema:
        return [args.schema]
    specs = discover()
    if args.service:
        specs = [spec for spec in specs if spec.name == args.service]
        if not specs:
            raise SystemExit(f"no service named {args.service!r}")
    return [spec.schema for spec in specs]


def describe(schema: str, letter: DeadLetter) -> str:
    """One line per dead letter: where it came from, why, and what became of its copy."""
    copy: str = letter.copied_as or "pending"
    if letter.copy_error and letter.copied_as != "whole":
        copy += f" ({letter.copy_error[:_REASON_CHARS]})"
    replayed = f", replayed {letter.replays}x" if letter.replays else ""
    kept = "" if letter.complete else ", bytes not kept"
    return (
        f"{schema}/{letter.id}  {letter.created_at:%Y-%m-%d %H:%M:%S}  {letter.consumer}"
        f"  {letter.topic}[{letter.partition}]@{letter.offset}  event {letter.event_id or '-'}"
        f"  {letter.size} bytes sha256:{letter.sha256.hex()[:16]}"
        f"  {letter.error}: {letter.reason[:_REASON_CHARS]!r}"
        f"  copy: {copy}{kept}{replayed}"
    )


async def list_dead_letters(dsn: str, schemas: Sequence[str], limit: int) -> list[str]:
    lines: list[str] = []
    for schema in schemas:
        conn = await db.connect(dsn, schema)
        try:
            letters = await dead_letter_repository.recent(conn, limit)
        except asyncpg.UndefinedTableError:
            lines.append(f"{schema}: not migrated yet (`vigie migrate`)")
            continue
        finally:
            await conn.close()
        lines += [describe(schema, letter) for letter in letters]
    return lines


async def replay_dead_letter(
    dsn: str,
    bootstrap: str,
    schema: str,
    letter_id: int,
    *,
    login: KafkaCredentials | None = None,
) -> DeadLetter:
    pool = await db.create_pool(dsn, schema, max_size=1)
    producer = Producer(bootstrap, client_id="vigie-dlq-replay", login=login)
    await producer.start()
    try:
        return await replay(pool, producer, letter_id)
    finally:
        await producer.stop()
        await pool.close()


def cmd_list(args: argparse.Namespace) -> int:
    lines = asyncio.run(
        list_dead_letters(ServiceSettings().database_url, _schemas(args), args.limit)
    )
    for line in lines:
        print(line)
    if not lines:
        print("no dead letters")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    schema, _, raw_id = args.ref.rpartition("/")
    if not schema or not raw_id.isdigit():
        print(f"expected SCHEMA/ID as printed by `vigie dlq list`, got {args.ref!r}")
        return 2
    settings = ServiceSettings()
    login = service_login(settings)
    try:
        letter = asyncio.run(
            replay_dead_letter(
                settings.database_url, settings.kafka_bootstrap, schema, int(raw_id), login=login
            )
        )
    except (LookupError, NotReplayable) as error:
        print(error)
        return 1
    except TopicAuthorizationFailedError:
        who = f"the user {login.username!r}" if login else "an unauthenticated client"
        print(
            f"error: the broker refused {who} the write to the topic of {schema}/{raw_id};"
            " replay as one of its writers (VIGIE_KAFKA_USERNAME, VIGIE_KAFKA_PASSWORD)",
            file=sys.stderr,
        )
        return 1
    except KafkaError as error:
        print(f"error: the broker did not take the replay: {error!r}", file=sys.stderr)
        return 1
    print(f"replayed {schema}/{letter.id} (event {letter.event_id or '-'}) to {letter.topic}")
    return 0


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = sub.add_parser("dlq", help="inspect and replay dead letters")
    what = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = what.add_parser("list", help="the latest dead letters of each service")
    listing.add_argument("--service", help="only this service's (default: every service's)")
    listing.add_argument("--schema", help="read this database schema instead")
    listing.add_argument("--limit", type=int, default=50, help="per service, newest first")
    add_stack_arguments(listing)
    listing.set_defaults(func=stack_command()(cmd_list))
    again = what.add_parser("replay", help="publish a dead letter again to its original topic")
    again.add_argument("ref", metavar="SCHEMA/ID", help="as printed by `vigie dlq list`")
    add_stack_arguments(again, broker=True)
    again.set_defaults(func=stack_command(broker=True)(cmd_replay))
