"""The deadline's explanation writes its dates once, with the writers its caller names for
each language; without any, dd/mm/yyyy as the API has always given them. The rules and the
dates are the same either way."""

from __future__ import annotations

import asyncio
from datetime import date

from dpo_requests.deadlines import ClockSuspension, Extension, compute_deadline, texts
from vigie_shared.kit.i18n import format_date

RECEIVED = date(2026, 1, 31)


def deadline_texts() -> tuple[str, str]:
    deadline = compute_deadline(
        RECEIVED,
        extended=Extension(requested_on=date(2026, 2, 10), reason="Plusieurs systèmes"),
        suspensions=[ClockSuspension(asked_on=date(2026, 2, 2), answered_on=date(2026, 2, 5))],
    )
    return deadline.explanation_fr, deadline.explanation_en


def test_without_writers_dates_are_written_dd_mm_yyyy_in_both_languages() -> None:
    french, english = deadline_texts()
    assert "Réception le 31/01/2026" in french
    assert "Received on 31/01/2026" in english
    assert "décidée le 10/02/2026" in french
    assert "clock stopped from 02/02/2026 to 05/02/2026" in english


def test_each_language_writes_its_dates_with_its_own_writer() -> None:
    with texts.dates_written_by(lambda d: format_date(d, "fr"), lambda d: format_date(d, "en")):
        french, english = deadline_texts()
    assert "Réception le 31/01/2026" in french
    assert "Received on Jan 31, 2026" in english
    assert "two-month extension decided on Feb 10, 2026" in english
    assert "clock stopped from Feb 2, 2026 to Feb 5, 2026" in english
    assert "/2026" not in english


def test_the_writers_change_the_words_never_the_dates() -> None:
    plain = compute_deadline(RECEIVED)
    with texts.dates_written_by(str, str):
        written = compute_deadline(RECEIVED)
    assert written.due_on == plain.due_on
    assert [s.on for s in written.rule_steps] == [s.on for s in plain.rule_steps]
    assert [s.kind for s in written.rule_steps] == [s.kind for s in plain.rule_steps]
    assert plain.due_on is not None
    assert f"→ Monday {plain.due_on.isoformat()}" in written.explanation_en


def test_the_writers_hold_only_within_their_block_and_their_own_task() -> None:
    """Two pages at once, in two languages: each request's texts follow its own writers."""
    started = asyncio.Event()

    async def unnamed() -> str:
        await started.wait()
        return deadline_texts()[1]

    async def named() -> str:
        with texts.dates_written_by(str, str):
            started.set()
            await asyncio.sleep(0)
            return deadline_texts()[1]

    async def both() -> tuple[str, str]:
        other = asyncio.create_task(unnamed())
        return await named(), await other

    inside, concurrent = asyncio.run(both())
    assert "Received on 2026-01-31" in inside
    assert "Received on 31/01/2026" in concurrent
    assert "Received on 31/01/2026" in deadline_texts()[1]
