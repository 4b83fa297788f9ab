from __future__ import annotations

from pydantic import BaseModel, Field


class ClientCreate(BaseModel):
    client_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$", examples=["moodle"])
    name: str = Field(min_length=1, max_length=200, examples=["Moodle"])
    redirect_uris: list[str] = Field(default_factory=list)
    training_platform: bool = Field(
        True, description="Suspensions block it; False keeps it reachable (payment, DPO pages)."
    )
