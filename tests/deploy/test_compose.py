"""docker-compose.yml and the Dockerfile agree with the services' code and settings.

Static checks only: nothing here starts a container, a broker or a database.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi import FastAPI
from starlette.routing import Match

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_PREFIX = "VIGIE_"
INFRASTRUCTURE = ("kafka", "postgres")


@dataclass(frozen=True)
class Service:
    name: str  # compose service name and workspace folder under services/
    package: str
    port: int

    @property
    def pyproject(self) -> Path:
        return ROOT / "services" / self.name / "pyproject.toml"


SERVICES = (
    Service("sso_gateway", "sso_gateway", 8000),
    Service("dpo_requests", "dpo_requests", 8001),
    Service("audit_log", "audit_log", 8002),
)

each_service = pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    services = compose.get("services") or {}
    assert name in services, f"docker-compose.yml has no service {name!r}"
    definition = services[name]
    assert isinstance(definition, dict)
    return definition


def _environment(definition: dict[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as a list of KEY=VALUE."""
    raw = definition.get("environment") or {}
    if isinstance(raw, list):
        return dict(str(item).partition("=")[::2] for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _container_ports(definition: dict[str, Any]) -> list[int]:
    ports: list[int] = []
    for entry in definition.get("ports") or []:
        if isinstance(entry, dict):
            ports.append(int(entry["target"]))
        else:
            ports.append(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def _healthcheck_command(definition: dict[str, Any]) -> str:
    healthcheck = definition.get("healthcheck") or {}
    test = healthcheck.get("test")
    assert test, "no healthcheck test"
    if isinstance(test, str):
        return test
    assert test[0] in ("CMD", "CMD-SHELL"), test
    return " ".join(str(part) for part in test[1:])


def _settings_class(service: Service) -> Any:
    return importlib.import_module(f"{service.package}.config").Settings


def _serves_get(app: FastAPI, path: str) -> bool:
    """Whether a GET on ``path`` reaches a route; asks the routes, runs no handler.

    ``app.routes`` is not enough: recent FastAPI keeps included routers unflattened there.
    """
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


def _dockerfile_stages() -> list[list[str]]:
    """Instructions of each stage, backslash-continued lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[str]] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


# -- infrastructure ----------------------------------------------------------------------------


def test_compose_file_uses_the_compose_spec_without_obsolete_version_key(
    compose: dict[str, Any],
) -> None:
    assert "version" not in compose


def test_kafka_uses_the_apache_image_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = _service(compose, "kafka")
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = _environment(kafka)
    roles = {role.strip() for role in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert {"broker", "controller"} <= roles
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS")


def test_nothing_in_compose_mentions_zookeeper() -> None:
    assert "zookeeper" not in COMPOSE_FILE.read_text(encoding="utf-8").lower()


def test_kafka_leaves_topic_creation_to_the_services(compose: dict[str, Any]) -> None:
    env = _environment(_service(compose, "kafka"))
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"


@pytest.mark.parametrize("name", INFRASTRUCTURE)
def test_infrastructure_has_a_healthcheck_for_service_healthy_to_wait_on(
    compose: dict[str, Any], name: str
) -> None:
    command = _healthcheck_command(_service(compose, name))
    expected = {"kafka": "kafka-broker-api-versions.sh", "postgres": "pg_isready"}[name]
    assert expected in command


def test_every_published_port_is_bound_to_localhost_only(compose: dict[str, Any]) -> None:
    for name, definition in compose["services"].items():
        for entry in definition.get("ports") or []:
            assert isinstance(entry, str), f"{name}: use the short 'ip:host:container' syntax"
            assert entry.startswith("127.0.0.1:"), f"{name} publishes {entry} on every interface"


# -- services ----------------------------------------------------------------------------------


@each_service
def test_service_runs_the_one_image_built_from_the_repository(
    compose: dict[str, Any], service: Service
) -> None:
    definition = _service(compose, service.name)
    build = definition["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert context in (".", "./")
    assert definition["image"] == "vigie:latest"


@each_service
def test_service_command_is_its_declared_console_script(
    compose: dict[str, Any], service: Service
) -> None:
    scripts = tomllib.loads(service.pyproject.read_text(encoding="utf-8"))["project"]["scripts"]
    own = [name for name, target in scripts.items() if target.startswith(f"{service.package}.")]
    assert len(own) == 1, scripts
    command = _service(compose, service.name)["command"]
    assert (command if isinstance(command, list) else command.split()) == own


@each_service
def test_service_env_vars_all_map_to_settings_fields(
    compose: dict[str, Any], service: Service
) -> None:
    fields = _settings_class(service).model_fields
    env = _environment(_service(compose, service.name))
    vigie_vars = [key for key in env if key.startswith(ENV_PREFIX)]
    assert vigie_vars
    unknown = [key for key in vigie_vars if key.removeprefix(ENV_PREFIX).lower() not in fields]
    assert not unknown, f"not fields of {service.package}.config.Settings: {unknown}"


@each_service
def test_service_runs_in_production_with_a_secret_key_required_from_the_shell(
    compose: dict[str, Any], service: Service
) -> None:
    env = _environment(_service(compose, service.name))
    assert env["VIGIE_ENV"] == "production"
    assert env["VIGIE_SECRET_KEY"].startswith("${VIGIE_SECRET_KEY:?")


@each_service
def test_service_http_port_matches_settings_default_and_published_port(
    compose: dict[str, Any], service: Service
) -> None:
    definition = _service(compose, service.name)
    port = int(_environment(definition)["VIGIE_HTTP_PORT"])
    assert port == service.port
    assert _settings_class(service).model_fields["http_port"].default == port
    assert _container_ports(definition) == [port]


@each_service
def test_service_healthcheck_probes_readyz_on_its_port_with_python(
    compose: dict[str, Any], service: Service
) -> None:
    command = _healthcheck_command(_service(compose, service.name))
    assert f"http://127.0.0.1:{service.port}/readyz" in command
    assert command.startswith("python -c")  # the slim image has no curl


@each_service
def test_service_waits_for_healthy_kafka_and_postgres(
    compose: dict[str, Any], service: Service
) -> None:
    depends_on = _service(compose, service.name)["depends_on"]
    assert isinstance(depends_on, dict), "use the long syntax to wait for health"
    for name in INFRASTRUCTURE:
        assert depends_on[name]["condition"] == "service_healthy"


@each_service
def test_service_reaches_postgres_and_kafka_by_their_compose_names(
    compose: dict[str, Any], service: Service
) -> None:
    env = _environment(_service(compose, service.name))
    postgres = _environment(_service(compose, "postgres"))
    dsn = urlsplit(env["VIGIE_DATABASE_URL"])
    assert (dsn.hostname, dsn.port) == ("postgres", 5432)
    assert dsn.username == postgres["POSTGRES_USER"]
    assert dsn.password == postgres["POSTGRES_PASSWORD"]
    assert dsn.path == f"/{postgres['POSTGRES_DB']}"
    advertised = _environment(_service(compose, "kafka"))["KAFKA_ADVERTISED_LISTENERS"]
    assert f"//{env['VIGIE_KAFKA_BOOTSTRAP']}" in advertised


@each_service
def test_create_app_builds_offline_with_health_routes(
    service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in [key for key in os.environ if key.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("create_app must not open network connections")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)

    settings_class = _settings_class(service)
    overrides: dict[str, Any] = {
        "env": "development",
        "database_url": "postgresql://vigie:vigie@127.0.0.1:1/vigie",
        "kafka_bootstrap": "127.0.0.1:1",
    }
    if "data_dir" in settings_class.model_fields:
        overrides["data_dir"] = tmp_path
    settings = settings_class(**overrides)

    app = importlib.import_module(f"{service.package}.app").create_app(settings)

    assert isinstance(app, FastAPI)
    assert _serves_get(app, "/healthz")
    assert _serves_get(app, "/readyz")


# -- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_final_stage_runs_as_a_non_root_user() -> None:
    final = _dockerfile_stages()[-1]
    users = [line.split(None, 1)[1].strip() for line in final if line.upper().startswith("USER ")]
    assert users, "the final stage has no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")


def test_dockerfile_installs_the_locked_dependencies_with_uv_sync_frozen() -> None:
    stages = _dockerfile_stages()
    assert len(stages) >= 2, "expected a multi-stage build"
    runs = [line for stage in stages for line in stage if line.upper().startswith("RUN ")]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs, "no RUN uv sync"
    assert all("--frozen" in run and "--no-dev" in run for run in syncs)
    final = stages[-1]
    assert any(line.upper().startswith("COPY --FROM=") and ".venv" in line for line in final)
