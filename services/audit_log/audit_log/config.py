"""audit_log settings (environment read here only)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field

from vigie_shared.kit.settings import ServiceSettings

SOURCE = "/vigie/audit_log"
"""CloudEvents ``source`` of every event this service emits."""


class WitnessConfig(BaseModel):
    name: str = Field(description="The witness's name, as in its cosignature lines.")
    vkey: str = Field(description="Its cosignature/v1 verifier key, <name>+<hash>+<key>.")
    url: str = Field(description="Its tlog-witness prefix; add-checkpoint is POSTed under it.")


class Settings(ServiceSettings):
    http_port: int = 8002
    issuer: str = Field(
        "http://127.0.0.1:8000", description="OIDC issuer whose access tokens the API accepts."
    )
    audience: str = Field("audit-log", description="Audience the API's access tokens must name.")
    checkpoint_origin: str = Field(
        "vigie.example/audit-log",
        description="Origin line of signed checkpoints (C2SP tlog-checkpoint): names this log.",
    )
    checkpoint_interval_seconds: float = Field(
        60.0, gt=0, description="How often a checkpoint is signed when the tree has grown."
    )
    ingest_batch_size: int = Field(
        2000,
        ge=1,
        description="Records polled per ingestion batch; stored 500 per transaction, the next"
        " 500 decoded while the previous ones are stored.",
    )
    retention_days: int = Field(
        365,
        ge=1,
        description="Entries older than this are crypto-shredded (CNIL: one year for access logs).",
    )
    retention_days_by_topic: dict[str, int] = Field(
        default_factory=dict,
        description="Per-topic override of retention_days, e.g. a longer one for dpo.requests.v1.",
    )
    witnesses: list[WitnessConfig] = Field(
        default_factory=list,
        description="Witnesses each new checkpoint is submitted to (C2SP tlog-witness).",
    )
    witness_quorum: int = Field(
        1,
        ge=1,
        description="Cosignatures a checkpoint needs before GET /checkpoint serves it (1 of 2...).",
    )
    retention_sweep_seconds: float = Field(3600.0, gt=0, description="Retention sweep period.")


@lru_cache
def get_settings() -> Settings:
    return Settings()
