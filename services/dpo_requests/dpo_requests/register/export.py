"""The register of rights requests: what was asked, when, the deadline and how it was met.

The record the controller keeps to demonstrate compliance with Chapter III (GDPR Art. 5(2)
accountability, Art. 12(3)-(6) time limits), in the spirit of the Art. 30 record of
processing. It holds no requester identity: the request id leads to it, and the export stays
shareable with an auditor (Art. 5(1)(c) data minimisation).

Deadline columns come from :func:`dpo_requests.deadlines.compute_deadline` fed with the stored
receipt time, extension and clock suspensions, exactly as
:meth:`dpo_requests.requests.service.RequestService.deadline` does: the register never has a
rule of its own.

CSV (RFC 4180: CRLF line ends, fields quoted when they hold the separator, a quote or a line
break, a header line) in UTF-8 with a byte-order mark, so that Excel detects UTF-8 instead of
reading accents as Windows-1252. The separator is ``;`` by default: French Excel (and
LibreOffice) use the comma as the decimal mark and ``;`` as the list separator, so a
comma-separated file opens as one column there; ``,`` (RFC 4180's own) is available for other
tools. Cells starting with ``= + - @`` are prefixed with ``'`` so that a spreadsheet never runs
them as formulas (OWASP "CSV injection"). The file is produced batch by batch
(:meth:`RegisterExport.csv`), so that a register of any length is sent in constant memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Final, Literal, NamedTuple

from pydantic import BaseModel, Field

from dpo_requests.deadlines import (
    ClockSuspension,
    Deadline,
    DeadlineError,
    Extension,
    RuleKind,
    compute_deadline,
)
from dpo_requests.deadlines.texts import receipt as receipt_texts
from dpo_requests.register.repository import (
    BATCH_SIZE,
    RegisteredRequest,
    RegisterRepository,
    register_repository,
)
from dpo_requests.requests.repository import OPEN_STATUSES
from vigie_shared.events import RequestType
from vigie_shared.kit.db import Conn

Separator = Literal[";", ","]
BOM: Final = "\ufeff"
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_BOOLEANS: Final[dict[bool | None, str]] = {True: "true", False: "false", None: ""}

Waits = tuple[tuple[date, date | None], ...]


class RegisterRow(BaseModel):
    """One request on the register (Europe/Paris dates)."""

    id: str
    request_type: RequestType
    channel: str = Field(examples=["online", "email", "post"])
    received_at: datetime
    received_on: date = Field(description="Paris date of receipt; the period starts after it.")
    identity_requested_on: date | None = Field(
        None, description="First day the DPO asked for identity information (Art. 12(6))."
    )
    identity_received_on: date | None = Field(
        None, description="Day the last identity information asked for arrived."
    )
    verified_on: date | None = Field(None, description="Day the identity was established.")
    suspended_days: int = Field(description="Calendar days the clock was stopped (closed waits).")
    clock_stopped: bool = Field(description="Waiting for identity information now: no due date.")
    due_on: date | None = Field(description="Due date in force (extension and waits included).")
    due_rule: str = Field(description="How the due date was computed, rule by rule.")
    extended: bool
    extended_on: date | None = Field(None, description="Day the Art. 12(3) extension was decided.")
    extension_reason: str | None = None
    status: str
    closed_on: date | None = None
    on_time: bool | None = Field(
        None,
        description="Answered on or before the due date; false for an open request already "
        "overdue; empty while it is still within time or was withdrawn.",
    )


class RegisterPublic(BaseModel):
    generated_at: datetime
    count: int
    items: list[RegisterRow]


COLUMNS: Final = tuple(RegisterRow.model_fields)


class _Line(NamedTuple):
    """A :class:`RegisterRow`'s values, in its order, without its validation: the CSV is
    written from these, a hundred thousand at a time."""

    id: str
    request_type: str
    channel: str
    received_at: datetime
    received_on: date
    identity_requested_on: date | None
    identity_received_on: date | None
    verified_on: date | None
    suspended_days: int
    clock_stopped: bool
    due_on: date | None
    due_rule: str
    extended: bool
    extended_on: date | None
    extension_reason: str | None
    status: str
    closed_on: date | None
    on_time: bool | None


@dataclass(frozen=True, slots=True)
class _DeadlineColumns:
    """The deadline columns of a request; ``deadline`` (computed from the Paris date of
    receipt) is None when the rules refuse its stored dates, and the register then shows the
    due date stored with the request."""

    deadline: Deadline | None
    rule_fr: str
    rule_en: str
    suspended_days: int
    clock_stopped: bool

    @classmethod
    def of(cls, deadline: Deadline) -> _DeadlineColumns:
        return cls(
            deadline=deadline,
            rule_fr=deadline.explanation_fr,
            rule_en=deadline.explanation_en,
            suspended_days=sum(
                step.days or 0 for step in deadline.rule_steps if step.kind is RuleKind.SUSPENSION
            ),
            clock_stopped=deadline.due_on is None,
        )


@lru_cache(maxsize=8192)
def _deadline_on(
    received_on: date, extended_on: date | None, extension_reason: str | None, waits: Waits
) -> _DeadlineColumns:
    """The deadline of a request received on the Paris date ``received_on``.

    The rules read Paris dates only, so requests received the same day with the same
    extension and waits share one computation: a register of 100,000 requests has a few
    thousand distinct deadlines.
    """
    try:
        deadline = compute_deadline(
            received_on,
            extended=(
                Extension(requested_on=extended_on, reason=extension_reason or "")
                if extended_on is not None
                else None
            ),
            suspensions=[ClockSuspension(asked_on=a, answered_on=b) for a, b in waits],
        )
    except DeadlineError as exc:
        # Stored dates the rules refuse (data written before a rule changed): show the date
        # stored with the request and say why it could not be derived, rather than fail
        # the whole export.
        return _DeadlineColumns(
            deadline=None,
            rule_fr=f"date enregistrée, non recalculable : {exc}",
            rule_en=f"stored date, cannot be derived: {exc}",
            suspended_days=0,
            clock_stopped=any(b is None for _, b in waits),
        )
    return _DeadlineColumns.of(deadline)


def _with_receipt_time(columns: _DeadlineColumns, received_at: datetime) -> _DeadlineColumns:
    """``columns``, computed from the Paris date of receipt, as ``compute_deadline`` gives them
    for the timestamp ``received_at`` whose own date is another day: the rules and so the
    dates are the same, and only the receipt's wording differs, which also gives the clock
    time, to say why the dates differ. An explanation is its steps' texts joined, the receipt
    first: its first step's text is replaced, the rest kept as it is."""
    assert columns.deadline is not None
    receipt = columns.deadline.rule_steps[0]
    text_fr, text_en = receipt_texts(received_at, columns.deadline.received_on)
    return replace(
        columns,
        rule_fr=text_fr + columns.rule_fr[len(receipt.text_fr) :],
        rule_en=text_en + columns.rule_en[len(receipt.text_en) :],
    )


def _deadline_columns(record: RegisteredRequest) -> _DeadlineColumns:
    asked_on, answered_on = record.suspensions_asked_on, record.suspensions_answered_on
    waits = tuple(zip(asked_on, answered_on or (), strict=True)) if asked_on else ()
    columns = _deadline_on(record.received_on, record.extended_on, record.extension_reason, waits)
    if columns.deadline is None or record.received_at.date() == record.received_on:
        return columns
    return _with_receipt_time(columns, record.received_at)


def _line(record: RegisteredRequest, *, today: date, lang: str) -> _Line:
    deadline = _deadline_columns(record)
    due_on = record.due_on if deadline.deadline is None else deadline.deadline.due_on
    closed_on, status = record.closed_on, record.status
    on_time: bool | None = None
    if status in ("completed", "refused") and closed_on is not None:
        on_time = due_on is None or closed_on <= due_on
    elif status in OPEN_STATUSES and due_on is not None and today > due_on:
        on_time = False
    identity_requested_on = identity_received_on = None
    if asked := record.suspensions_asked_on:
        identity_requested_on = asked[0]
        answered = [b for b in record.suspensions_answered_on or () if b is not None]
        if answered and not deadline.clock_stopped:
            identity_received_on = max(answered)
    # Positionally, in COLUMNS order (a test holds _Line's fields to RegisterRow's).
    return _Line(
        record.id,
        record.request_type,
        record.channel,
        record.received_at,
        record.received_on,
        identity_requested_on,
        identity_received_on,
        record.verified_on,
        deadline.suspended_days,
        deadline.clock_stopped,
        due_on,
        deadline.rule_en if lang == "en" else deadline.rule_fr,
        record.extended_on is not None,
        record.extended_on,
        record.extension_reason,
        status,
        closed_on,
        on_time,
    )


class _CsvText:
    """The register's CSV text, written row by row and taken away in chunks of UTF-8, BOM and
    header first.

    Each line is what :class:`csv.writer` writes with the same settings (RFC 4180 section 2,
    its minimal quoting: a field is quoted when it holds the separator, a double quote, which
    is then doubled, or a line break; lines end with CRLF), built by joining the cells: the
    register's rule texts are long, and the writer, which inspects every character of every
    field one at a time, cost more than all the rest of the export together.
    """

    def __init__(self, separator: Separator) -> None:
        self._separator = separator
        self._parts = [BOM, separator.join(COLUMNS), "\r\n"]
        # The cells a deadline decides (the rule text the longest of all) are the same for
        # every request with that deadline, and the register comes in receipt order, where
        # the requests of one day follow each other: a small cache writes them once per
        # deadline rather than once per request.
        self._deadline_cells = lru_cache(maxsize=1024)(self._write_deadline_cells)

    def _text(self, value: str | None) -> str:
        if not value:
            return ""
        if value.startswith(_FORMULA_STARTS):
            value = "'" + value
        if self._separator in value or '"' in value or "\r" in value or "\n" in value:
            return '"' + value.replace('"', '""') + '"'
        return value

    def _write_deadline_cells(
        self,
        suspended_days: int,
        clock_stopped: bool,
        due_on: date | None,
        due_rule: str,
        extended: bool,
        extended_on: date | None,
        extension_reason: str | None,
    ) -> str:
        """The cells from ``suspended_days`` to ``extension_reason``, which follow each other
        in COLUMNS order."""
        return self._separator.join(
            (
                str(suspended_days),
                _BOOLEANS[clock_stopped],
                due_on.isoformat() if due_on else "",
                self._text(due_rule),
                _BOOLEANS[extended],
                extended_on.isoformat() if extended_on else "",
                self._text(extension_reason),
            )
        )

    def write(self, rows: Iterable[_Line | RegisterRow]) -> None:
        text, deadline_cells, parts = self._text, self._deadline_cells, self._parts
        for row in rows:
            # COLUMNS order. No type of request or status (CHECK constraints name them), date,
            # count of days (never negative) or flag needs quotes or reads as a formula.
            parts.append(
                self._separator.join(
                    (
                        text(row.id),
                        row.request_type,
                        text(row.channel),
                        row.received_at.isoformat(),
                        row.received_on.isoformat(),
                        row.identity_requested_on.isoformat() if row.identity_requested_on else "",
                        row.identity_received_on.isoformat() if row.identity_received_on else "",
                        row.verified_on.isoformat() if row.verified_on else "",
                        deadline_cells(
                            row.suspended_days,
                            row.clock_stopped,
                            row.due_on,
                            row.due_rule,
                            row.extended,
                            row.extended_on,
                            row.extension_reason,
                        ),
                        row.status,
                        row.closed_on.isoformat() if row.closed_on else "",
                        _BOOLEANS[row.on_time],
                    )
                )
            )
            parts.append("\r\n")

    def take(self) -> bytes:
        chunk = "".join(self._parts).encode("utf-8")
        self._parts.clear()
        return chunk


def _language(lang: str) -> str:
    return "en" if lang.lower().startswith("en") else "fr"


class RegisterExport:
    def __init__(self, repository: RegisterRepository, *, batch_size: int = BATCH_SIZE) -> None:
        self._repository = repository
        self._batch_size = batch_size

    async def _lines(
        self,
        conn: Conn,
        *,
        today: date,
        received_from: date | None,
        received_to: date | None,
        status: str | None,
        request_type: RequestType | None,
        lang: str,
    ) -> AsyncGenerator[list[_Line], None]:
        lang = _language(lang)
        batches = self._repository.batches(
            conn,
            received_from=received_from,
            received_to=received_to,
            status=status,
            request_type=request_type.value if request_type else None,
            size=self._batch_size,
        )
        # Closed with this generator, not whenever it is collected: a stream left half-way
        # ends the cursor's transaction while its connection is still the stream's.
        async with aclosing(batches):
            async for batch in batches:
                yield [_line(record, today=today, lang=lang) for record in batch]

    async def rows(
        self,
        conn: Conn,
        *,
        today: date,
        received_from: date | None = None,
        received_to: date | None = None,
        status: str | None = None,
        request_type: RequestType | None = None,
        lang: str = "fr",
    ) -> list[RegisterRow]:
        """Requests received from ``received_from`` to ``received_to`` (Paris dates, both
        included), oldest first."""
        lines = self._lines(
            conn,
            today=today,
            received_from=received_from,
            received_to=received_to,
            status=status,
            request_type=request_type,
            lang=lang,
        )
        async with aclosing(lines):
            return [RegisterRow(**line._asdict()) async for batch in lines for line in batch]

    async def csv(
        self,
        conn: Conn,
        *,
        today: date,
        received_from: date | None = None,
        received_to: date | None = None,
        status: str | None = None,
        request_type: RequestType | None = None,
        lang: str = "fr",
        separator: Separator = ";",
    ) -> AsyncGenerator[bytes, None]:
        """The rows of :meth:`rows` as the file :func:`to_csv` makes of them, one chunk per
        batch read: memory holds a batch, not the register. The first chunk carries the
        header with the first batch (or alone, for an empty register)."""
        text = _CsvText(separator)
        batches = self._lines(
            conn,
            today=today,
            received_from=received_from,
            received_to=received_to,
            status=status,
            request_type=request_type,
            lang=lang,
        )
        async with aclosing(batches):
            async for lines in batches:
                text.write(lines)
                yield text.take()
        if rest := text.take():
            yield rest


def to_csv(rows: Iterable[RegisterRow], *, separator: Separator = ";") -> bytes:
    """RFC 4180 CSV, UTF-8 with BOM (see the module docstring for the separator)."""
    text = _CsvText(separator)
    text.write(rows)
    return text.take()


register_export = RegisterExport(register_repository)
