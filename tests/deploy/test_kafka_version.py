"""Compose, Strimzi and the tests run one Apache Kafka: the version tools/kafka/pom.xml pins, with
the replication settings the cluster fault tests ran (kit/kafka_server.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vigie_shared.kit.kafka_jars import kafka_version
from vigie_shared.kit.kafka_server import ApacheKafkaCluster

ROOT = Path(__file__).resolve().parents[2]
STRIMZI = ROOT / "deploy" / "kubernetes" / "strimzi" / "kafka.yaml"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _strimzi(kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        doc for doc in yaml.safe_load_all(STRIMZI.read_text()) if doc["kind"] == kind
    )
    return found


def _test_cluster_settings(tmp_path: Path) -> dict[str, str]:
    node = ApacheKafkaCluster(data_dir=tmp_path).nodes[0]
    lines = node._properties().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_the_pom_pins_apache_kafka_4() -> None:
    version = kafka_version(ROOT)
    assert version is not None
    assert version.split(".")[0] == "4"


def test_every_compose_broker_runs_the_pinned_version() -> None:
    services = _compose()["services"]
    images = {name: services[name]["image"] for name in ("kafka", "kafka-1", "kafka-2", "kafka-3")}
    assert images == dict.fromkeys(images, f"apache/kafka:{kafka_version(ROOT)}")


def test_strimzi_names_the_pinned_version_in_kraft_mode_on_three_combined_nodes() -> None:
    kafka = _strimzi("Kafka")
    assert kafka["spec"]["kafka"]["version"] == kafka_version(ROOT)
    assert kafka["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    pool = _strimzi("KafkaNodePool")
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}


def test_compose_cluster_and_strimzi_replicate_as_the_fault_tests_cluster(tmp_path: Path) -> None:
    tested = _test_cluster_settings(tmp_path)
    keys = (
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "unclean.leader.election.enable",
        "auto.create.topics.enable",
    )
    strimzi = {k: str(v).lower() for k, v in _strimzi("Kafka")["spec"]["kafka"]["config"].items()}
    env = _compose()["services"]["kafka-1"]["environment"]
    compose = {k: str(env["KAFKA_" + k.upper().replace(".", "_")]).lower() for k in keys}
    expected = {k: tested[k] for k in keys}
    assert expected["default.replication.factor"] == "3"
    assert expected["min.insync.replicas"] == "2"
    assert {k: strimzi[k] for k in keys} == expected
    assert compose == expected


def test_the_single_compose_broker_replicates_as_the_tests_single_broker() -> None:
    env = _compose()["services"]["kafka"]["environment"]
    assert str(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == "1"
    assert str(env["KAFKA_MIN_INSYNC_REPLICAS"]) == "1"
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"
