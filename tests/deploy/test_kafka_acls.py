"""Strimzi's KafkaUsers and compose's broker hold the ACL table of kit/kafka_acls.py, the one the
security tests run against (tests/security/test_kafka_acls.py): a grant added or dropped in one
place and not the other would leave a deployment where a forged billing event goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vigie_shared.kit.kafka_acls import Grant, grants, principals

ROOT = Path(__file__).resolve().parents[2]
STRIMZI = ROOT / "deploy" / "kubernetes" / "strimzi"


def _users() -> list[dict[str, Any]]:
    return [
        doc
        for doc in yaml.safe_load_all((STRIMZI / "kafka-users.yaml").read_text())
        if doc["kind"] == "KafkaUser"
    ]


def strimzi_user_names() -> set[str]:
    return {user["metadata"]["name"] for user in _users()}


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
    users = _users()
    assert sorted(u["metadata"]["name"] for u in users) == sorted(principals())
    for user in users:
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "vigie"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"
        assert all(acl["host"] == "*" for acl in user["spec"]["authorization"]["acls"])


def test_the_kafka_users_acls_are_the_kits_table() -> None:
    declared = set().union(*(_grants_of(user) for user in _users()))
    assert declared == set(grants())


def test_only_accounting_may_write_billing_events() -> None:
    writers = {
        g.principal
        for user in _users()
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
