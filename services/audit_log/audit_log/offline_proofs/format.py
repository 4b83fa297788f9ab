"""The C2SP tlog-proof text format (c2sp.org/tlog-proof, ``c2sp.org/tlog-proof@v1``): a proof,
verifiable offline, that an entry is in the log at an index, observed by witnesses.

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>            (optional)
    index <decimal, no leading zeroes>
    <base64 hash>                         (the RFC 6962 §2.1.1 audit path, leaf's sibling first)
    ...
                                          (an empty line)
    <the checkpoint, verbatim: a signed note with the log's and witnesses' signature lines>

The spec leaves ``extra`` to the application and says it is not authenticated. Ours carries
the entry's leaf bytes (``d(m)``, RFC 6962 §2.1): the data from which the record hash is
rebuilt, so the file proves an entry one can read, not just a hash. A verifier hashes it
(``SHA-256(0x00 || extra)``) and checks *that* hash against the signed root: the bytes are
then authenticated by the proof itself, never trusted for being in the file.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from audit_log.checkpoints.note import BadNote, Checkpoint, open_note
from audit_log.merkle.hashing import leaf_hash
from audit_log.merkle.verification import verify_inclusion

HEADER = "c2sp.org/tlog-proof@v1"
EXTENSION = ".tlog-proof"
"""The file extension the spec recommends."""

_INDEX = re.compile(r"index (0|[1-9][0-9]*)")
_HASH_SIZE = 32


class BadProof(ValueError):
    pass


@dataclass(frozen=True)
class TlogProof:
    index: int
    inclusion_path: tuple[bytes, ...]
    checkpoint: str
    """The signed note, verbatim (its signature lines each end with a newline)."""
    extra: bytes | None = None

    def encode(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(h).decode() for h in self.inclusion_path]
        return "\n".join(lines) + "\n\n" + self.checkpoint


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise BadProof(f"{what} is not standard base64") from exc


def parse(text: str) -> TlogProof:
    """Read a proof; raise BadProof on anything the format does not allow."""
    head, sep, checkpoint = text.partition("\n\n")
    if not sep or not checkpoint:
        raise BadProof("no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise BadProof(f"the first line is not {HEADER}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _b64(rest.pop(0).removeprefix("extra "), "extra")
    if not rest or not (match := _INDEX.fullmatch(rest[0])):
        raise BadProof("no index line (decimal, no leading zeroes)")
    path = []
    for line in rest[1:]:
        node = _b64(line, "an inclusion proof line")
        if len(node) != _HASH_SIZE:
            raise BadProof("an inclusion proof line is not a SHA-256 hash")
        path.append(node)
    return TlogProof(int(match.group(1)), tuple(path), checkpoint, extra)


def check(proof: TlogProof, vkey: str, record: bytes | None = None) -> Checkpoint:
    """Verify offline: the checkpoint is signed by ``vkey`` (and names its origin), and the
    record (``record``, else the proof's ``extra``) is the leaf at the index of that tree."""
    try:
        checkpoint = open_note(proof.checkpoint, vkey)
    except (BadNote, binascii.Error) as exc:
        raise BadProof(f"checkpoint: {exc}") from exc
    if checkpoint.origin != vkey.split("+", 1)[0]:
        raise BadProof("the checkpoint's origin is not the key's name")
    data = record if record is not None else proof.extra
    if data is None:
        raise BadProof("no record: the proof has no extra data and none was given")
    if not proof.index < checkpoint.tree_size:
        raise BadProof(f"index {proof.index} is not in a tree of {checkpoint.tree_size}")
    if not verify_inclusion(
        leaf_hash(data),
        proof.index,
        checkpoint.tree_size,
        proof.inclusion_path,
        checkpoint.root_hash,
    ):
        raise BadProof(f"the record is not entry {proof.index} of the signed tree")
    return checkpoint
