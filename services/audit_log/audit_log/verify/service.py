"""``vigie audit verify``: recompute the tree from storage and hold it against every signed
checkpoint (RFC 9162 §8.1.x: what a monitor checks), reporting the first bad entry.

Nothing stored is trusted: each leaf hash is recomputed from the row's columns (the leaf index
is inside the leaf, so a moved row does not hash as its new position), indexes must run 0..n-1
without a gap, the recomputed root at each checkpoint's size must equal the root it signed, and
the final root must equal the stored frontier's. Checkpoint signatures are checked with pinned
verifier keys when given, else with the keys in the database (weaker: whoever can write the
database could add a key of their own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit_log.checkpoints.note import BadNote, Checkpoint, open_note
from audit_log.checkpoints.service import CheckpointService
from audit_log.merkle import MerkleAccumulator
from audit_log.tree.repository import TreeRepository, tree_repository
from audit_log.witnessing.cosignature import BadCosignature, WitnessKey, verify
from audit_log.witnessing.repository import WitnessRepository, witness_repository
from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class Finding:
    leaf_index: int | None
    problem: str

    def __str__(self) -> str:
        where = "log" if self.leaf_index is None else f"entry {self.leaf_index}"
        return f"{where}: {self.problem}"


@dataclass
class Report:
    tree_size: int = 0
    root_hash: bytes = b""
    checkpoints_checked: int = 0
    cosignatures_checked: int = 0
    first_bad: Finding | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None


class Verifier:
    def __init__(
        self,
        checkpoints: CheckpointService,
        witnesses: Sequence[WitnessKey] = (),
        repository: TreeRepository = tree_repository,
        witness_repository: WitnessRepository = witness_repository,
    ) -> None:
        self._checkpoints = checkpoints
        self._witnesses = {key.name: key for key in witnesses}
        self._repository = repository
        self._witness_repository = witness_repository

    async def run(self, conn: Conn, pinned_keys: Sequence[str] = ()) -> Report:
        report = Report()
        signed = await self._signed_checkpoints(conn, pinned_keys, report)
        if report.first_bad is None:
            report.first_bad = await self._cosignatures(conn, report)
        if report.first_bad is not None:
            return report
        pending = sorted(signed, key=lambda c: c.tree_size)
        accumulator = MerkleAccumulator()
        last_good = 0

        def check_checkpoints() -> Finding | None:
            nonlocal last_good
            while pending and pending[0].tree_size == accumulator.size:
                checkpoint = pending.pop(0)
                report.checkpoints_checked += 1
                if checkpoint.root_hash != accumulator.root():
                    return Finding(
                        last_good,
                        f"root at size {checkpoint.tree_size} differs from the signed checkpoint:"
                        f" an entry in [{last_good}, {checkpoint.tree_size}) was altered together"
                        " with its stored leaf hash",
                    )
                last_good = checkpoint.tree_size
            return None

        report.first_bad = check_checkpoints()
        async for stored in self._repository.stream_leaves(conn):
            if report.first_bad is not None:
                break
            expected = accumulator.size
            leaf = stored.leaf
            if leaf.index != expected:
                report.first_bad = Finding(
                    expected, f"missing: the next stored entry is {leaf.index}"
                )
                break
            digest = leaf.hash()
            if digest != stored.leaf_hash:
                report.first_bad = Finding(
                    expected,
                    f"content does not match its leaf hash (event {leaf.event_id}): altered,"
                    " or moved from another position",
                )
                break
            accumulator.append(digest)
            report.first_bad = check_checkpoints()
        report.tree_size = accumulator.size
        report.root_hash = accumulator.root()
        if report.first_bad is None and pending:
            report.first_bad = Finding(
                accumulator.size,
                f"missing: a checkpoint signed size {pending[0].tree_size} but storage ends at"
                f" {accumulator.size}",
            )
        if report.first_bad is None:
            state = MerkleAccumulator.from_state(await self._repository.state(conn))
            if state.size != accumulator.size:
                report.first_bad = Finding(
                    accumulator.size,
                    f"missing: the tree state counts {state.size} entries,"
                    f" storage {accumulator.size}",
                )
            elif state.root() != accumulator.root():
                report.first_bad = Finding(
                    last_good,
                    f"the stored frontier's root differs from the recomputed one: an entry after"
                    f" {last_good} was altered together with its stored leaf hash",
                )
        return report

    async def _signed_checkpoints(
        self, conn: Conn, pinned_keys: Sequence[str], report: Report
    ) -> list[Checkpoint]:
        out: list[Checkpoint] = []
        for stored in await self._checkpoints.all(conn):
            keys = list(pinned_keys) or [stored.verifier_key]
            opened: Checkpoint | None = None
            for key in keys:
                try:
                    opened = open_note(stored.note, key)
                    break
                except BadNote:
                    continue
            if opened is None:
                report.first_bad = Finding(
                    None, f"checkpoint at size {stored.tree_size} is not signed by a trusted key"
                )
                return out
            if opened.origin != self._checkpoints.origin:
                report.first_bad = Finding(
                    None,
                    f"checkpoint at size {stored.tree_size} names origin {opened.origin!r},"
                    f" not this log's {self._checkpoints.origin!r}",
                )
                return out
            out.append(opened)
        return out

    async def _cosignatures(self, conn: Conn, report: Report) -> Finding | None:
        """Each kept cosignature by a configured witness must verify (c2sp.org/tlog-cosignature)
        over its checkpoint's body; those of witnesses no longer configured cannot be checked."""
        for stored in await self._witness_repository.all_cosignatures(conn):
            key = self._witnesses.get(stored.witness)
            if key is None:
                continue
            body = stored.note.partition("\n\n")[0] + "\n"
            try:
                verify(stored.line, body, key)
            except BadCosignature as exc:
                return Finding(
                    None,
                    f"cosignature of {stored.witness} on the checkpoint at size"
                    f" {stored.tree_size} does not verify: {exc}",
                )
            report.cosignatures_checked += 1
        return None
