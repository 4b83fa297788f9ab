"""``vigie audit verify`` recomputes the tree from storage and finds a row altered, deleted or
reordered directly in PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from audit_log import cli
from audit_log.checkpoints.note import verifier_key
from audit_log.verify.service import Report
from tests.audit_log.support import LogUnderTest, entry, forge_actor, tamper

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def filled(log: LogUnderTest, n: int = 20) -> None:
    await log.append(*(entry(i) for i in range(n // 2)))
    async with log.pool.acquire() as conn:
        await log.audit.checkpoints.issue(conn)
    await log.append(*(entry(i) for i in range(n // 2, n)))
    async with log.pool.acquire() as conn:
        await log.audit.checkpoints.issue(conn)


async def verify(log: LogUnderTest) -> Report:
    return await cli.verify(log.settings, [], log.schema)


async def test_an_untouched_log_verifies_against_every_checkpoint(log: LogUnderTest) -> None:
    await filled(log)
    report = await verify(log)
    assert report.ok, report.first_bad
    assert report.tree_size == 20
    assert report.checkpoints_checked == 2


async def test_a_changed_row_is_reported_as_the_first_bad_entry(log: LogUnderTest) -> None:
    await filled(log)
    await tamper(log, "UPDATE log_entries SET actor = 'user:u-evil' WHERE leaf_index = 7")
    report = await verify(log)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 7
    assert "content does not match" in report.first_bad.problem


async def test_a_deleted_row_is_reported_at_its_index(log: LogUnderTest) -> None:
    await filled(log)
    await tamper(log, "DELETE FROM log_entries WHERE leaf_index = 12")
    report = await verify(log)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 12
    assert "missing" in report.first_bad.problem


async def test_deleting_the_last_rows_is_caught_by_the_signed_checkpoint(
    log: LogUnderTest,
) -> None:
    await filled(log)
    await tamper(log, "DELETE FROM log_entries WHERE leaf_index >= 17")
    report = await verify(log)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 17


async def test_two_swapped_rows_are_reported_at_the_first_of_them(log: LogUnderTest) -> None:
    await filled(log)
    await tamper(
        log,
        "UPDATE log_entries SET leaf_index = 1000000 WHERE leaf_index = 3",
        "UPDATE log_entries SET leaf_index = 3 WHERE leaf_index = 9",
        "UPDATE log_entries SET leaf_index = 9 WHERE leaf_index = 1000000",
    )
    report = await verify(log)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 3


async def test_a_row_rewritten_with_a_matching_leaf_hash_breaks_the_signed_root(
    log: LogUnderTest,
) -> None:
    await filled(log)
    await forge_actor(log, 4, "user:u-evil")
    report = await verify(log)
    assert report.first_bad is not None
    assert report.first_bad.leaf_index == 0
    assert "differs from the signed checkpoint" in report.first_bad.problem
    assert "[0, 10)" in report.first_bad.problem


async def test_a_checkpoint_signed_by_another_key_is_refused_with_a_pinned_key(
    log: LogUnderTest,
) -> None:
    await filled(log)
    async with log.pool.acquire() as conn:
        genuine = (await log.audit.checkpoints.verifier_keys(conn))[0]
    assert (await cli.verify(log.settings, [genuine], log.schema)).ok
    stranger = verifier_key("test/log", bytes(32))
    report = await cli.verify(log.settings, [stranger], log.schema)
    assert report.first_bad is not None
    assert "not signed by a trusted key" in report.first_bad.problem


async def test_the_verify_command_exits_non_zero_and_prints_the_first_bad_entry(
    log: LogUnderTest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await filled(log)
    monkeypatch.setenv("VIGIE_DATABASE_URL", log.settings.database_url)
    monkeypatch.setenv("VIGIE_CHECKPOINT_ORIGIN", log.settings.checkpoint_origin)
    parser = argparse.ArgumentParser()
    cli.register_commands(parser.add_subparsers())
    args = parser.parse_args(["audit", "verify", "--schema", log.schema])
    # The command runs its own event loop, as under the ``vigie`` console script.
    assert await asyncio.to_thread(args.func, args) == 0
    await tamper(log, "UPDATE log_entries SET type = 'vigie.other' WHERE leaf_index = 2")
    assert await asyncio.to_thread(args.func, args) == 1
    assert "TAMPERED: entry 2:" in capsys.readouterr().out
