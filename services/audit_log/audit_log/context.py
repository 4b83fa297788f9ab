"""The service objects of one audit_log instance, built from its settings (the secret key keys
the data-key wrapping and the checkpoint key at rest, so they cannot be module singletons)."""

from __future__ import annotations

from dataclasses import dataclass

from audit_log.checkpoints.service import CheckpointService
from audit_log.config import Settings
from audit_log.ingest.service import IngestService
from audit_log.offline_proofs.service import OfflineProofService
from audit_log.proofs.service import ProofService
from audit_log.query.service import QueryService
from audit_log.read_records.service import ReadAudit
from audit_log.reports.service import ReportService
from audit_log.shredding.service import Keys
from audit_log.tiles.service import TileService
from audit_log.tree.service import TreeService
from audit_log.verify.service import Verifier
from audit_log.witnessing.cosignature import WitnessKey
from audit_log.witnessing.service import WitnessService


@dataclass(frozen=True)
class AuditLog:
    settings: Settings
    keys: Keys
    tree: TreeService
    checkpoints: CheckpointService
    ingest: IngestService
    proofs: ProofService
    read_records: ReadAudit
    query: QueryService
    reports: ReportService
    tiles: TileService
    witnesses: WitnessService
    offline_proofs: OfflineProofService
    verifier: Verifier

    @classmethod
    def build(cls, settings: Settings) -> AuditLog:
        keys = Keys(settings.secret_key)
        tree = TreeService(keys)
        checkpoints = CheckpointService(
            tree, origin=settings.checkpoint_origin, secret=settings.secret_key
        )
        tiles = TileService(checkpoints)
        witnesses = WitnessService(tree, tiles, settings.witnesses, settings.witness_quorum)
        return cls(
            settings=settings,
            keys=keys,
            tree=tree,
            checkpoints=checkpoints,
            ingest=IngestService(tree),
            proofs=ProofService(tree),
            read_records=ReadAudit(tree),
            query=QueryService(keys),
            reports=ReportService(),
            tiles=tiles,
            witnesses=witnesses,
            offline_proofs=OfflineProofService(tree, checkpoints, witnesses),
            verifier=Verifier(checkpoints, [WitnessKey.parse(w.vkey) for w in settings.witnesses]),
        )
