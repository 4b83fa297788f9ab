"""audit_log settings (environment read here only)."""

from __future__ import annotations

from functools import lru_cache

from vigie_shared.kit.settings import ServiceSettings

SOURCE = "/vigie/audit_log"
"""CloudEvents ``source`` of every event this service emits."""


class Settings(ServiceSettings):
    http_port: int = 8002


@lru_cache
def get_settings() -> Settings:
    return Settings()
