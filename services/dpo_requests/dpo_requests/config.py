"""dpo_requests settings (environment read here only)."""

from __future__ import annotations

from functools import lru_cache

from vigie_shared.kit.settings import ServiceSettings

SOURCE = "/vigie/dpo_requests"
"""CloudEvents ``source`` of every event this service emits."""


class Settings(ServiceSettings):
    http_port: int = 8001


@lru_cache
def get_settings() -> Settings:
    return Settings()
