"""Reading compose files as ``docker compose`` does, for the deploy tests: the environment of a
service, Compose's merge of an override file (``-f base -f override``, with its ``!override``
and ``!reset`` tags), and listener lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


def environment(definition: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as a list of KEY=VALUE."""
    raw = definition.get("environment") or {}
    if isinstance(raw, list):
        return dict(str(item).partition("=")[::2] for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


@dataclass(frozen=True)
class _Tagged:
    """A value under one of Compose's merge tags, ``!override`` or ``!reset``."""

    tag: str
    value: Any


class ComposeLoader(yaml.SafeLoader):
    """Safe YAML loader that also reads Compose's ``!override`` and ``!reset`` tags."""


def _construct_tagged(loader: yaml.SafeLoader, node: yaml.Node) -> _Tagged:
    value: Any
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    else:
        raise TypeError(f"unexpected YAML node {node!r}")
    return _Tagged(node.tag, value)


for _tag in ("!override", "!reset"):
    ComposeLoader.add_constructor(_tag, _construct_tagged)

_RESET = object()


def compose_merge(base: Any, override: Any) -> Any:
    """``override`` merged into ``base`` as ``docker compose -f base -f override`` does it for
    what these files use: mappings merged key by key, ``!override`` replacing, ``!reset``
    removing, anything else replaced (Compose appends some sequences, e.g. ports; the override
    file here adds none)."""
    if isinstance(override, _Tagged):
        return _RESET if override.tag == "!reset" else override.value
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            result = compose_merge(base[key], value) if key in base else value
            if result is _RESET:
                merged.pop(key, None)
            else:
                merged[key] = result
        return merged
    return override


def listener_addresses(value: str) -> dict[str, str]:
    """``NAME://host:port,...`` as {NAME: host:port}."""
    return dict(entry.split("://", 1) for entry in value.split(","))
