"""Strimzi's KafkaUsers and compose's broker hold the ACL table of kit/kafka_acls.py, the one the
security tests run against (tests/security/test_kafka_acls.py): a grant added or dropped in one
place and not the other would leave a deployment where a forged billing event goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.deploy.strimzi import STRIMZI, kafka_users
from vigie_shared.kit.kafka_acls import SERVICE_USERS, Grant, grants, principals

ROOT = Path(__file__).resolve().parents[2]


def _grants_of(user: dict[str, Any]) -> set[Grant]:
    name = user["metadata"]["name"]
    return {
        Grant(
            name,
            acl["resource"]["type"],
            acl["resource"]["name"],
            operation,
            acl["resource"].get("patternType", "literal"),
        )
        for acl in user["spec"]["authorization"]["acls"]
        for operation in acl["operations"]
    }


def test_every_principal_has_a_scram_kafka_user_of_the_vigie_cluster() -> None:
    users = kafka_users()
    assert sorted(u["metadata"]["name"] for u in users) == sorted(principals())
    for user in users:
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "vigie"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"
        assert all(acl["host"] == "*" for acl in user["spec"]["authorization"]["acls"])


def test_the_kafka_users_acls_are_the_kits_table() -> None:
    declared = set().union(*(_grants_of(user) for user in kafka_users()))
    assert declared == set(grants())


def test_only_accounting_may_write_billing_events() -> None:
    writers = {
        g.principal
        for user in kafka_users()
        for g in _grants_of(user)
        if g.name == "billing.events.v1" and g.operation == "Write"
    }
    assert writers == {"accounting"}


def test_strimzi_authenticates_with_scram_and_authorizes_with_acls() -> None:
    kafka = next(
        doc
        for doc in yaml.safe_load_all((STRIMZI / "kafka.yaml").read_text())
        if doc["kind"] == "Kafka"
    )
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners
    assert all(lst["authentication"] == {"type": "scram-sha-512"} for lst in listeners)
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}


COMPOSE = ROOT / "docker-compose.yml"
SECURITY_SCRIPT = ROOT / "deploy" / "compose" / "kafka-security.sh"


def _script_lines(command: str, fields: int = -1) -> list[list[str]]:
    return [
        line.split(maxsplit=fields)
        for line in SECURITY_SCRIPT.read_text().splitlines()
        if line.startswith(f"{command} ")
    ]


def _compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_the_compose_security_script_grants_the_kits_table() -> None:
    patterns = {"literal": "literal", "prefixed": "prefix"}
    declared = {
        Grant(principal, kind, name, operation, patterns[pattern])  # type: ignore[arg-type]
        for _, principal, kind, pattern, operations, *names in _script_lines("acl")
        for operation in operations.split(",")
        for name in names
    }
    assert declared == set(grants())


def test_the_compose_security_script_gives_every_principal_a_password_from_compose() -> None:
    users = {line[1]: line[2] for line in _script_lines("user", 2)}
    assert sorted(users) == sorted(principals())
    given = _compose_services()["kafka-security"]["environment"]
    for user, password in users.items():
        variable = "VIGIE_KAFKA_PASSWORD_" + user.upper().replace("-", "_")
        assert password == f'"${{{variable}:?set {variable}}}"'
        assert given[variable] == f"${{{variable}:?set {variable}}}"


def test_compose_clients_reach_only_scram_listeners_and_the_authorizer_decides() -> None:
    services = _compose_services()
    env = services["kafka"]["environment"]
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = dict(entry.split("://") for entry in env["KAFKA_LISTENERS"].split(","))
    for name, protocol in protocols.items():
        # Unauthenticated listeners are bound to the container's loopback alone.
        assert protocol == "SASL_PLAINTEXT" or listeners[name].startswith("127.0.0.1:"), name
    assert protocols["INTERNAL"] == protocols["HOST"] == "SASL_PLAINTEXT"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert services["kafka-security"]["network_mode"] == "service:kafka"


def test_each_compose_service_logs_in_as_its_own_user() -> None:
    services = _compose_services()
    for service, user in SERVICE_USERS.items():
        env = services[service]["environment"]
        variable = f"VIGIE_KAFKA_PASSWORD_{service.upper()}"
        assert env["VIGIE_KAFKA_USERNAME"] == user
        assert env["VIGIE_KAFKA_PASSWORD"] == f"${{{variable}:?set {variable}}}"
        assert services[service]["depends_on"]["kafka-security"] == {
            "condition": "service_completed_successfully"
        }
