from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigie_shared.kit.settings import ServiceSettings


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="VIGIE_SECRET_KEY"):
        ServiceSettings(env="production")


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="VIGIE_SECRET_KEY"):
        ServiceSettings(env="production", secret_key="short")


def test_production_accepts_a_long_random_secret() -> None:
    settings = ServiceSettings(env="production", secret_key="x" * 48)
    assert settings.env == "production"


def test_settings_come_from_vigie_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("VIGIE_HTTP_PORT", "9999")
    settings = ServiceSettings()
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.http_port == 9999


def test_request_bounds_come_from_the_environment_and_refuse_nonsense(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIE_MAX_BODY_BYTES", "65536")
    monkeypatch.setenv("VIGIE_HEADER_TIMEOUT", "2.5")
    monkeypatch.setenv("VIGIE_MAX_CONCURRENCY", "50")
    settings = ServiceSettings()
    assert (settings.max_body_bytes, settings.header_timeout, settings.max_concurrency) == (
        65536,
        2.5,
        50,
    )
    for name, value in (("max_body_bytes", 10), ("header_timeout", 0), ("max_json_depth", 1)):
        with pytest.raises(ValidationError):
            ServiceSettings.model_validate({name: value})
