"""sso_gateway settings (environment read here only)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from vigie_shared.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = 8000
    issuer: str = Field(
        "http://127.0.0.1:8000", description="OIDC issuer identifier (OIDC Discovery 1.0 §3)."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()


SOURCE = "/vigie/sso_gateway"
"""CloudEvents ``source`` of every event this service emits."""
