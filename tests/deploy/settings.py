"""The environment variables a service reads: its ``Settings`` plus the feature settings that
have a prefix of their own (mail: ``VIGIE_SMTP_*``)."""

from __future__ import annotations

import importlib

from pydantic_settings import BaseSettings

ENV_PREFIX = "VIGIE_"
FEATURE_SETTINGS: dict[str, tuple[str, ...]] = {
    "dpo_requests": ("dpo_requests.notifications.config:SmtpSettings",),
}


def _env_names(settings: type[BaseSettings], default_prefix: str = ENV_PREFIX) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix") or default_prefix).upper()
    return {prefix + name.upper() for name in settings.model_fields}


def known_env(package: str) -> set[str]:
    settings: type[BaseSettings] = importlib.import_module(f"{package}.config").Settings
    names = _env_names(settings)
    for target in FEATURE_SETTINGS.get(package, ()):
        module, _, attr = target.partition(":")
        names |= _env_names(getattr(importlib.import_module(module), attr))
    return names
