from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CheckpointPublic(BaseModel):
    tree_size: int
    root_hash: str = Field(description="base64 MTH of the first tree_size entries.")
    issued_at: datetime
    note: str = Field(description="The C2SP signed note (docs/audit-log.md).")
    verifier_key: str = Field(description="<name>+<key hash hex>+<base64(0x01||Ed25519 key)>")


class VerifierKeys(BaseModel):
    origin: str
    keys: list[str] = Field(description="Every checkpoint key this log has used, oldest first.")
