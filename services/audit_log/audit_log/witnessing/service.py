"""Witness cosigning (c2sp.org/tlog-witness): each new checkpoint is submitted to every
configured witness with a consistency proof from the size that witness last accepted, and the
cosignatures they return (c2sp.org/tlog-cosignature) are checked and kept. ``GET /checkpoint``
then serves the latest checkpoint cosigned by the policy's quorum, its cosignature lines after
the log's own, so a client can require witnesses before trusting a tree head (a split view
would need the witnesses to collude)."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from audit_log.checkpoints.service import SignedCheckpoint
from audit_log.config import WitnessConfig
from audit_log.tiles.service import TileService
from audit_log.tree.service import TreeService
from audit_log.witnessing.cosignature import BadCosignature, WitnessKey, verify
from audit_log.witnessing.repository import Cosigned, WitnessRepository, witness_repository
from vigie_shared.kit.db import Conn

log = logging.getLogger(__name__)

SIZE_MEDIA_TYPE = "text/x.tlog.size"


@dataclass
class Round:
    tree_size: int
    cosigned_by: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Served:
    """The checkpoint ``GET /checkpoint`` serves: its tree size, and the note with the
    witnesses' lines."""

    tree_size: int
    note: str


def cosigned_note(cosigned: Cosigned) -> str:
    """The log's note, then the witnesses' signature lines after its own (c2sp.org/signed-note:
    a verifier skips the lines of keys it does not know)."""
    return cosigned.note + "".join(line + "\n" for line in cosigned.lines)


def request_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    """``old <size>``, one base64 proof hash a line, a blank line, then the signed note."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


class WitnessService:
    def __init__(
        self,
        tree: TreeService,
        tiles: TileService,
        witnesses: list[WitnessConfig],
        quorum: int,
        repository: WitnessRepository = witness_repository,
    ) -> None:
        self._tree = tree
        self._tiles = tiles
        self._witnesses = [(w, WitnessKey.parse(w.vkey)) for w in witnesses]
        self._names = [w.name for w in witnesses]
        self._quorum = min(quorum, len(witnesses)) if witnesses else 0
        self._repository = repository

    async def latest_cosigned(self, conn: Conn) -> Cosigned | None:
        """The latest checkpoint the policy's quorum cosigned; None without witnesses."""
        if not self._quorum:
            return None
        return await self._repository.latest_cosigned(conn, self._names, self._quorum)

    async def with_cosignatures(self, conn: Conn, checkpoint: SignedCheckpoint) -> str:
        """The checkpoint's note followed by the configured witnesses' lines collected so far."""
        lines = await self._repository.lines(conn, checkpoint.id, self._names)
        return cosigned_note(Cosigned(checkpoint.id, checkpoint.tree_size, checkpoint.note, lines))

    async def served(self, conn: Conn) -> Served:
        """The latest checkpoint the policy's quorum cosigned, with their lines; until one is,
        or without witnesses, the latest one the log signed."""
        cosigned = await self.latest_cosigned(conn)
        if cosigned is not None:
            return Served(cosigned.tree_size, cosigned_note(cosigned))
        checkpoint = await self._tiles.checkpoint(conn)
        return Served(checkpoint.tree_size, checkpoint.note)

    async def served_note(self, conn: Conn) -> str:
        """What ``GET /checkpoint`` serves (:meth:`served`)."""
        return (await self.served(conn)).note

    async def submit(self, conn: Conn, http: httpx.AsyncClient) -> Round:
        """Submit the latest checkpoint to every witness that has not cosigned it."""
        checkpoint = await self._tiles.checkpoint(conn)
        done = Round(checkpoint.tree_size)
        for witness, key in self._witnesses:
            if await self._repository.has_cosignature(conn, checkpoint.id, witness.name):
                done.cosigned_by.append(witness.name)
                continue
            try:
                await self._submit(conn, http, checkpoint, witness, key)
                done.cosigned_by.append(witness.name)
            except (WitnessRefused, httpx.HTTPError, BadCosignature) as exc:
                log.warning("witness %s: %s", witness.name, exc)
                done.refused[witness.name] = str(exc)
        return done

    async def _submit(
        self,
        conn: Conn,
        http: httpx.AsyncClient,
        checkpoint: SignedCheckpoint,
        witness: WitnessConfig,
        key: WitnessKey,
    ) -> None:
        old = await self._repository.known_size(conn, witness.name)
        # One retry: a 409 tells the size the witness really knows (its state was lost here,
        # or another replica submitted first).
        for _attempt in range(2):
            if old > checkpoint.tree_size:
                raise WitnessRefused(
                    f"knows size {old}, beyond this checkpoint's {checkpoint.tree_size}"
                )
            proof = (
                await self._tree.consistency_proof(conn, old, checkpoint.tree_size)
                if old > 0
                else []
            )
            response = await http.post(
                witness.url.rstrip("/") + "/add-checkpoint",
                content=request_body(old, proof, checkpoint.note),
            )
            if response.status_code == 409 and response.headers.get("content-type", "").startswith(
                SIZE_MEDIA_TYPE
            ):
                old = int(response.text.strip())
                await self._repository.set_size(conn, witness.name, old)
                continue
            if response.status_code == 422:
                # tlog-witness: the proof does not lead from what the witness holds to this
                # checkpoint. That is a fork or a rewritten log: say it loudly.
                log.error("witness %s finds this log inconsistent from size %d", witness.name, old)
                raise WitnessRefused(f"inconsistent from size {old} (422)")
            if response.status_code in (403, 404):
                raise WitnessRefused(f"does not know this log or its key ({response.status_code})")
            if response.status_code != 200:
                raise WitnessRefused(f"answered {response.status_code}")
            await self._keep(conn, checkpoint, witness, key, response.text)
            return
        raise WitnessRefused("its known size changed again while submitting")

    async def _keep(
        self,
        conn: Conn,
        checkpoint: SignedCheckpoint,
        witness: WitnessConfig,
        key: WitnessKey,
        answer: str,
    ) -> None:
        body = checkpoint.note.partition("\n\n")[0] + "\n"
        for line in answer.splitlines():
            try:
                timestamp = verify(line, body, key)
            except BadCosignature:
                continue  # a witness may return signatures under other keys (tlog-witness)
            async with conn.transaction():
                await self._repository.add_cosignature(
                    conn, checkpoint.id, witness.name, datetime.fromtimestamp(timestamp, UTC), line
                )
                await self._repository.set_size(conn, witness.name, checkpoint.tree_size)
            return
        raise BadCosignature(f"no valid cosignature by {key.name} in the answer")


class WitnessRefused(Exception):
    pass
