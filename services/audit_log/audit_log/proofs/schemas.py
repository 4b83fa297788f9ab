from __future__ import annotations

from pydantic import BaseModel, Field


class InclusionProof(BaseModel):
    """RFC 9162 §4.14 / §5.4 ``get-proof-by-hash`` material, base64 as in RFC 9162 §5."""

    leaf_index: int
    tree_size: int
    leaf: str = Field(description="base64 canonical leaf bytes; leaf hash = SHA-256(0x00||leaf).")
    leaf_hash: str
    inclusion_path: list[str] = Field(description="Audit path, leaf's sibling first.")
    root_hash: str = Field(description="Root of the tree of size tree_size.")


class ConsistencyProof(BaseModel):
    """RFC 9162 §4.11 / §5.3 ``get-sth-consistency`` material."""

    first: int
    second: int
    first_root: str
    second_root: str
    consistency_path: list[str]
