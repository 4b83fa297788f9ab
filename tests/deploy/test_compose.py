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

from tests.deploy.compose import (
    ComposeLoader,
    compose_merge,
    environment,
    listener_addresses,
)
from tests.deploy.settings import known_env

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
    env = environment(kafka)
    roles = {role.strip() for role in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert {"broker", "controller"} <= roles
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS")


def test_nothing_in_compose_mentions_zookeeper() -> None:
    assert "zookeeper" not in COMPOSE_FILE.read_text(encoding="utf-8").lower()


def test_kafka_leaves_topic_creation_to_the_services(compose: dict[str, Any]) -> None:
    env = environment(_service(compose, "kafka"))
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
    # The script that runs the service; a service may declare others (admin tools).
    own = [name for name, target in scripts.items() if target == f"{service.package}.__main__:main"]
    assert len(own) == 1, scripts
    command = _service(compose, service.name)["command"]
    assert (command if isinstance(command, list) else command.split()) == own


@each_service
def test_service_env_vars_all_map_to_settings_fields(
    compose: dict[str, Any], service: Service
) -> None:
    known = known_env(service.package)
    env = environment(_service(compose, service.name))
    vigie_vars = [key for key in env if key.startswith(ENV_PREFIX)]
    assert vigie_vars
    unknown = [key for key in vigie_vars if key not in known]
    assert not unknown, f"not fields of {service.package}.config.Settings: {unknown}"


@each_service
def test_service_runs_in_production_with_a_secret_key_required_from_the_shell(
    compose: dict[str, Any], service: Service
) -> None:
    env = environment(_service(compose, service.name))
    assert env["VIGIE_ENV"] == "production"
    assert env["VIGIE_SECRET_KEY"].startswith("${VIGIE_SECRET_KEY:?")


@each_service
def test_service_http_port_matches_settings_default_and_published_port(
    compose: dict[str, Any], service: Service
) -> None:
    definition = _service(compose, service.name)
    port = int(environment(definition)["VIGIE_HTTP_PORT"])
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
    env = environment(_service(compose, service.name))
    postgres = environment(_service(compose, "postgres"))
    dsn = urlsplit(env["VIGIE_DATABASE_URL"])
    assert (dsn.hostname, dsn.port) == ("postgres", 5432)
    assert dsn.username == postgres["POSTGRES_USER"]
    assert dsn.password == postgres["POSTGRES_PASSWORD"]
    assert dsn.path == f"/{postgres['POSTGRES_DB']}"
    advertised = environment(_service(compose, "kafka"))["KAFKA_ADVERTISED_LISTENERS"]
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


# -- three-broker cluster (profile "cluster", docker-compose.cluster.yml) ------------------------

CLUSTER_FILE = ROOT / "docker-compose.cluster.yml"
CLUSTER_PROFILE = "cluster"
CLUSTER_BROKERS = ("kafka-1", "kafka-2", "kafka-3")


def _active(compose: dict[str, Any], profiles: set[str]) -> dict[str, dict[str, Any]]:
    """The services ``docker compose --profile ... up`` starts."""
    return {
        name: definition
        for name, definition in compose["services"].items()
        if not definition.get("profiles") or set(definition["profiles"]) & profiles
    }


def _assert_dependencies_resolve(active: dict[str, dict[str, Any]]) -> None:
    for name, definition in active.items():
        depends_on = definition.get("depends_on") or {}
        missing = [dep for dep in depends_on if dep not in active]
        assert not missing, f"{name} depends on services that are not started: {missing}"
        image_or_build = definition.get("image") or definition.get("build")
        assert image_or_build, f"{name} has neither image nor build"


@pytest.fixture(scope="module")
def cluster_compose(compose: dict[str, Any]) -> dict[str, Any]:
    override = yaml.load(CLUSTER_FILE.read_text(encoding="utf-8"), Loader=ComposeLoader)
    assert isinstance(override, dict)
    assert override.get("name", compose["name"]) == compose["name"]
    merged = compose_merge(compose, override)
    assert isinstance(merged, dict)
    return merged


def test_default_services_resolve_without_a_profile(compose: dict[str, Any]) -> None:
    active = _active(compose, set())
    assert set(active) == {
        "kafka",
        "kafka-security",
        "postgres",
        "mailpit",
        *(s.name for s in SERVICES),
    }
    _assert_dependencies_resolve(active)


def test_cluster_profile_has_three_kraft_brokers_with_distinct_ids_and_a_three_voter_quorum(
    compose: dict[str, Any],
) -> None:
    in_profile = [
        name
        for name, definition in compose["services"].items()
        if CLUSTER_PROFILE in (definition.get("profiles") or [])
    ]
    assert sorted(in_profile) == list(CLUSTER_BROKERS)
    envs = {name: environment(_service(compose, name)) for name in CLUSTER_BROKERS}
    node_ids = {name: int(env["KAFKA_NODE_ID"]) for name, env in envs.items()}
    assert len(set(node_ids.values())) == len(CLUSTER_BROKERS)
    expected_voters = {f"{node_ids[name]}@{name}:9093" for name in CLUSTER_BROKERS}
    for name, env in envs.items():
        definition = _service(compose, name)
        assert definition["profiles"] == [CLUSTER_PROFILE]
        assert str(definition["image"]).startswith("apache/kafka:")
        roles = {role.strip() for role in env["KAFKA_PROCESS_ROLES"].split(",")}
        assert roles == {"broker", "controller"}
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == expected_voters
        listeners = listener_addresses(env["KAFKA_LISTENERS"])
        assert listeners[env["KAFKA_CONTROLLER_LISTENER_NAMES"]].endswith(":9093")
        advertised = listener_addresses(env["KAFKA_ADVERTISED_LISTENERS"])
        assert advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]] == f"{name}:9092"
        assert "kafka-broker-api-versions.sh" in _healthcheck_command(definition)
    assert len({env["CLUSTER_ID"] for env in envs.values()}) == 1


def test_cluster_brokers_replicate_three_times_with_two_in_sync(compose: dict[str, Any]) -> None:
    for name in CLUSTER_BROKERS:
        env = environment(_service(compose, name))
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"


def test_cluster_brokers_keep_their_own_data_and_host_ports(compose: dict[str, Any]) -> None:
    volumes = [_service(compose, name)["volumes"][0].split(":")[0] for name in CLUSTER_BROKERS]
    ports = [_service(compose, name)["ports"][0].rsplit(":", 1)[0] for name in CLUSTER_BROKERS]
    assert len(set(volumes)) == len(set(ports)) == len(CLUSTER_BROKERS)
    assert set(volumes) <= set(compose["volumes"])
    for name in CLUSTER_BROKERS:
        env = environment(_service(compose, name))
        host = listener_addresses(env["KAFKA_ADVERTISED_LISTENERS"])["HOST"]
        assert _service(compose, name)["ports"] == [f"{host}:9094"]


def test_cluster_override_resolves_and_replaces_the_single_broker(
    cluster_compose: dict[str, Any],
) -> None:
    active = _active(cluster_compose, {CLUSTER_PROFILE})
    assert "kafka" not in active
    assert set(CLUSTER_BROKERS) <= set(active)
    _assert_dependencies_resolve(active)


@each_service
def test_cluster_override_points_services_at_the_three_brokers(
    cluster_compose: dict[str, Any], service: Service
) -> None:
    definition = _service(cluster_compose, service.name)
    env = environment(definition)
    internal = {
        listener_addresses(
            environment(_service(cluster_compose, name))["KAFKA_ADVERTISED_LISTENERS"]
        )["INTERNAL"]
        for name in CLUSTER_BROKERS
    }
    assert set(env["VIGIE_KAFKA_BOOTSTRAP"].split(",")) == internal
    assert int(env["VIGIE_KAFKA_REPLICATION"]) == len(CLUSTER_BROKERS)
    known = known_env(service.package)
    unknown = [k for k in env if k.startswith(ENV_PREFIX) and k not in known]
    assert not unknown
    depends_on = definition["depends_on"]
    for name in (*CLUSTER_BROKERS, "postgres"):
        assert depends_on[name]["condition"] == "service_healthy"
    # Everything else still comes from docker-compose.yml.
    assert env["VIGIE_ENV"] == "production"
    assert env["VIGIE_SECRET_KEY"].startswith("${VIGIE_SECRET_KEY:?")
