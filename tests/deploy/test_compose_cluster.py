"""Compose's three-broker cluster (profile "cluster", docker-compose.cluster.yml) authenticates
every client and enforces kit/kafka_acls.py's table, as the single broker does: without them any
client of the network could forge the billing events that suspend learners (GDPR Art. 32(1)(b)).

Its own scripts run here, deploy/compose/kafka-node.sh on each node and kafka-security.sh once,
with the compose files' environments, on Apache Kafka outside Docker: only the addresses become
free loopback ports, the data a temporary directory, and the image's /opt/kafka/bin the jars
that tools/kafka/pom.xml pins (the main classes its scripts run)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from aiokafka.protocol.admin import CreateAclsRequest

from tests.deploy.compose import (
    ComposeLoader,
    compose_merge,
    environment,
    listener_addresses,
)
from tests.fixtures.stack import ARTIFACTS
from vigie_shared import topics
from vigie_shared.events import DebtReminded, PaymentChannel, new_event
from vigie_shared.kit.cloudevents import encode
from vigie_shared.kit.embedded import _die_with_parent, free_port
from vigie_shared.kit.kafka import KafkaCredentials, client_security, ensure_topics
from vigie_shared.kit.kafka_acls import ACCOUNTING, ADMIN, SERVICE_USERS, principals
from vigie_shared.kit.kafka_jars import ensure_kafka_jars, kafka_unavailable_reason
from vigie_shared.kit.kafka_server import LOG4J2

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
CLUSTER_FILE = ROOT / "docker-compose.cluster.yml"
NODE_SCRIPT = ROOT / "deploy" / "compose" / "kafka-node.sh"
SECURITY_SCRIPT = ROOT / "deploy" / "compose" / "kafka-security.sh"
NODES = ("kafka-1", "kafka-2", "kafka-3")
SECURITY_JOB = "kafka-cluster-security"
IMAGE_BIN = "/opt/kafka/bin"
IMAGE_ADMIN_CONFIG = "/opt/kafka/config/vigie-admin.properties"

# What the apache/kafka image's scripts run (kafka-run-class.sh and these main classes).
MAIN_CLASSES = {
    "kafka-storage.sh": "kafka.tools.StorageTool",
    "kafka-server-start.sh": "kafka.Kafka",
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
    "kafka-configs.sh": "org.apache.kafka.tools.ConfigCommand",
    "kafka-broker-api-versions.sh": "org.apache.kafka.tools.BrokerApiVersionsCommand",
}
# kafka-security.sh starts one of these per user and per ACL line, one after the other: each
# keeps the classes it loaded the first time in an archive of its own (JDK CDS), which the next
# ones map instead of loading them again.
ARCHIVED = ("kafka-acls.sh", "kafka-configs.sh")
TOOLS_LOG4J2 = """\
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
"""

on_kafka = pytest.mark.skipif(
    kafka_unavailable_reason() is not None,
    reason=f"Apache Kafka: {kafka_unavailable_reason()}",
)

# The shell's variables that the compose files require (${NAME:?...}).
SHELL = {
    "VIGIE_KAFKA_ADMIN_PASSWORD": secrets.token_urlsafe(18),
    **{
        "VIGIE_KAFKA_PASSWORD_" + name.upper().replace("-", "_"): secrets.token_urlsafe(18)
        for name in principals()
    },
}


def login(name: str) -> KafkaCredentials:
    return KafkaCredentials(name, SHELL["VIGIE_KAFKA_PASSWORD_" + name.upper().replace("-", "_")])


def admin() -> KafkaCredentials:
    return KafkaCredentials(ADMIN, SHELL["VIGIE_KAFKA_ADMIN_PASSWORD"])


def _merged() -> dict[str, Any]:
    base = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    override = yaml.load(CLUSTER_FILE.read_text(encoding="utf-8"), Loader=ComposeLoader)
    merged: dict[str, Any] = compose_merge(base, override)
    return merged


def _interpolated(value: str) -> str:
    """``value`` as compose gives it to the container, from ``SHELL``: the files use only
    ``${NAME:?message}``, whose variable must then be one the test sets."""

    def variable(match: re.Match[str]) -> str:
        assert match[1] in SHELL, f"compose requires {match[1]}, which this test does not set"
        return SHELL[match[1]]

    interpolated = re.sub(r"\$\{(\w+):\?[^}]*\}", variable, value)
    assert "$" not in interpolated, f"an interpolation this test does not know: {value}"
    return interpolated


@dataclass(frozen=True)
class Node:
    name: str
    env: dict[str, str]
    ports: dict[str, int]  # listener name -> the loopback port standing for its container port
    container_ports: dict[int, str]  # container port -> listener name
    directory: Path

    def address(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"

    @property
    def admin_config(self) -> Path:
        return self.directory / "admin.properties"


def _nodes(merged: Mapping[str, Any], directory: Path) -> dict[str, Node]:
    nodes = {}
    for name in NODES:
        env = {k: _interpolated(v) for k, v in environment(merged["services"][name]).items()}
        listeners = listener_addresses(env["KAFKA_LISTENERS"])
        nodes[name] = Node(
            name=name,
            env=env,
            ports={listener: free_port() for listener in listeners},
            container_ports={int(a.rsplit(":", 1)[1]): n for n, a in listeners.items()},
            directory=directory / name,
        )
    return nodes


def _translated(address: str, nodes: Mapping[str, Node], here: Node | None = None) -> str:
    """A compose address (``kafka-2:9092``; ``localhost:9092`` inside ``here``'s container) as
    the loopback port that stands for it."""
    host, port = address.rsplit(":", 1)
    node = here if host in ("", "localhost") and here is not None else nodes[host]
    return node.address(node.container_ports[int(port)])


def _node_env(node: Node, nodes: Mapping[str, Node], bin_dir: Path) -> dict[str, str]:
    env = dict(node.env)
    env["KAFKA_LISTENERS"] = ",".join(
        f"{listener}://{node.address(listener)}"
        for listener in listener_addresses(env["KAFKA_LISTENERS"])
    )
    env["KAFKA_ADVERTISED_LISTENERS"] = ",".join(
        f"{listener}://{node.address(listener)}"
        for listener in listener_addresses(env["KAFKA_ADVERTISED_LISTENERS"])
    )
    voters = []
    for voter in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","):
        node_id, address = voter.split("@")
        voters.append(f"{node_id}@{_translated(address, nodes)}")
    env["KAFKA_CONTROLLER_QUORUM_VOTERS"] = ",".join(voters)
    env["KAFKA_LOG_DIRS"] = str(node.directory / "data")
    return {
        **_base_env(bin_dir),
        **env,
        "KAFKA_NODE_CONFIG": str(node.directory / "server.properties"),
        "KAFKA_ADMIN_CONFIG": str(node.admin_config),
        "KAFKA_HEAP_OPTS": "-Xmx384m -Xms64m",
        # A machine of two cores runs the three: fewer threads than the defaults, as
        # kit/kafka_server.py gives its nodes.
        "KAFKA_NUM_NETWORK_THREADS": "2",
        "KAFKA_NUM_IO_THREADS": "4",
        "KAFKA_BACKGROUND_THREADS": "4",
    }


def _base_env(bin_dir: Path) -> dict[str, str]:
    # Nothing of this process's own KAFKA_* or VIGIE_* variables.
    kept = {k: os.environ[k] for k in ("PATH", "HOME", "JAVA_HOME", "TMPDIR") if k in os.environ}
    return {**kept, "KAFKA_BIN": str(bin_dir)}


def _write_shims(bin_dir: Path) -> None:
    """``/opt/kafka/bin``'s scripts that the compose scripts call, each a JVM on the jars."""
    jars = ensure_kafka_jars()
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else "java"
    bin_dir.mkdir(parents=True)
    (bin_dir / "server-log4j2.properties").write_text(LOG4J2)
    (bin_dir / "tools-log4j2.properties").write_text(TOOLS_LOG4J2)
    for script, main in MAIN_CLASSES.items():
        server = script == "kafka-server-start.sh"
        flags = (
            ["${KAFKA_HEAP_OPTS:--Xmx512m}"] if server else ["-Xmx128m", "-XX:TieredStopAtLevel=1"]
        )
        log4j = bin_dir / ("server-log4j2.properties" if server else "tools-log4j2.properties")
        lines = ["#!/bin/bash"]
        if script in ARCHIVED:
            archive = shlex.quote(str(bin_dir / f"{script}.jsa"))
            lines.append(
                f"if [[ -f {archive} ]]; then cds=-XX:SharedArchiveFile={archive}; "
                f"else cds=-XX:ArchiveClassesAtExit={archive}; fi"
            )
            flags.append('"$cds"')
        command = [
            shlex.quote(java),
            *flags,
            "-XX:+UseSerialGC",
            shlex.quote(f"-Dlog4j2.configurationFile={log4j}"),
            "-cp",
            shlex.quote(f"{jars}/*"),
            main,
            '"$@"',
        ]
        lines.append("exec " + " ".join(command))
        path = bin_dir / script
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o755)


async def _live(bootstrap: str) -> set[int]:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap, request_timeout_ms=3000, **client_security(admin())
    )
    try:
        await client.bootstrap()
        return {broker.nodeId for broker in client.cluster.brokers()}
    except Exception:  # not answering yet, whatever the reason
        return set()
    finally:
        await client.close()


def _wait_live(bootstrap: str, processes: Mapping[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 120
    while True:
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited; see {ARTIFACTS}"
        if len(asyncio.run(_live(bootstrap))) == len(NODES):
            return
        assert time.monotonic() < deadline, f"the cluster is not up; see {ARTIFACTS}"
        time.sleep(0.5)


def _stop(processes: Mapping[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every node's process group (the node script, its JVM), SIGKILL to any left
    after a controlled shutdown's time."""
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _announce(config: pytest.Config, text: str) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(text, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{text}", flush=True)


@dataclass(frozen=True)
class Cluster:
    nodes: dict[str, Node]
    bin_dir: Path

    @property
    def bootstrap(self) -> str:
        """The HOST listeners, as a tool on the docker host reaches them."""
        return ",".join(node.address("HOST") for node in self.nodes.values())


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("compose-cluster")
    merged = _merged()
    nodes = _nodes(merged, directory)
    bin_dir = directory / "bin"
    _write_shims(bin_dir)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    started = time.monotonic()
    try:
        for name, node in nodes.items():
            node.directory.mkdir(parents=True)
            with (ARTIFACTS / f"compose-cluster-{name}.log").open("wb") as out:
                processes[name] = subprocess.Popen(
                    ["bash", str(NODE_SCRIPT)],
                    env=_node_env(node, nodes, bin_dir),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),
                )
        running = Cluster(nodes, bin_dir)
        _wait_live(running.bootstrap, processes)
        ready = time.monotonic()
        job = {
            k: _interpolated(v) for k, v in environment(merged["services"][SECURITY_JOB]).items()
        }
        job["VIGIE_KAFKA_BOOTSTRAP"] = ",".join(
            _translated(a, nodes) for a in job["VIGIE_KAFKA_BOOTSTRAP"].split(",")
        )
        done = subprocess.run(
            ["bash", str(SECURITY_SCRIPT)],
            env={**_base_env(bin_dir), **job},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"kafka-security.sh failed:\n{done.stdout}{done.stderr}"
        _announce(
            request.config,
            f"compose cluster: three nodes up in {ready - started:.1f}s, "
            f"kafka-security.sh done in {time.monotonic() - ready:.1f}s",
        )
        yield running
    finally:
        _stop(processes)


async def producer_as(bootstrap: str, credentials: KafkaCredentials | None) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=10_000,
        **client_security(credentials),
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


def debt_reminded() -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
    learner = f"u-{uuid.uuid4().hex[:8]}"
    event = new_event(
        DebtReminded(
            debt_id=f"d-{uuid.uuid4().hex[:8]}",
            learner_id=learner,
            channel=PaymentChannel.CARD,
            amount=Decimal("120.50"),
            reminded_at=datetime.now(UTC),
        ),
        subject=learner,
        source="/accounting/erp",
    )
    record = encode(event)
    assert record.key is not None
    assert record.value is not None
    return record.topic, record.value, record.key, list(record.headers)


@pytest.mark.broker
@on_kafka
async def test_a_client_without_credentials_is_refused(cluster: Cluster) -> None:
    with pytest.raises(KafkaConnectionError):
        await producer_as(cluster.bootstrap, None)


@pytest.mark.broker
@on_kafka
async def test_a_client_with_a_wrong_password_is_refused(cluster: Cluster) -> None:
    # The same user with its password gets in: the refusal below is the password's.
    await (await producer_as(cluster.bootstrap, login(ACCOUNTING))).stop()
    with pytest.raises(KafkaConnectionError):
        await producer_as(cluster.bootstrap, KafkaCredentials(ACCOUNTING, "not-the-password"))


@pytest.mark.broker
@on_kafka
async def test_accounting_writes_billing_events_that_the_three_brokers_replicate(
    cluster: Cluster,
) -> None:
    # Created by a service, as on its first start in compose: three replicas, two in sync.
    await ensure_topics(
        cluster.bootstrap,
        [topics.BILLING],
        partitions=3,
        replication=len(NODES),
        min_insync=2,
        with_dlq=False,
        login=login("sso-gateway"),
    )
    producer = await producer_as(cluster.bootstrap, login(ACCOUNTING))
    try:
        topic, value, key, headers = debt_reminded()
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    # The followers fetch as "admin" over SCRAM: all three in sync means they authenticated.
    admin_client = AIOKafkaAdminClient(
        bootstrap_servers=cluster.bootstrap, **client_security(login("sso-gateway"))
    )
    await admin_client.start()
    try:
        for _ in range(40):
            (described,) = await admin_client.describe_topics([topics.BILLING])
            partitions = described["partitions"]
            if all(len(p["isr"]) == len(NODES) for p in partitions):
                break
            await asyncio.sleep(0.5)
    finally:
        await admin_client.close()
    assert len(partitions) == 3
    for partition in partitions:
        assert sorted(partition["replicas"]) == [1, 2, 3]
        assert sorted(partition["isr"]) == [1, 2, 3]


@pytest.mark.broker
@on_kafka
async def test_dpo_requests_cannot_forge_a_billing_event(cluster: Cluster) -> None:
    await ensure_topics(
        cluster.bootstrap,
        [topics.BILLING],
        replication=len(NODES),
        with_dlq=False,
        login=login("sso-gateway"),
    )
    producer = await producer_as(cluster.bootstrap, login("dpo-requests"))
    try:
        topic, value, key, headers = debt_reminded()
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


@pytest.mark.broker
@on_kafka
async def test_no_client_grants_itself_acls_on_a_controller_listener_without_logging_in(
    cluster: Cluster,
) -> None:
    """The controllers listen on the compose network (the quorum needs it) and take ACL and
    SCRAM changes there too (KIP-919): an unauthenticated super user there, as ANONYMOUS on a
    PLAINTEXT controller listener would be, would let any container grant itself billing."""
    write, describe, topic, literal, allow = 4, 8, 2, 3, 3
    forged = CreateAclsRequest(topic, topics.BILLING, literal, "User:forger", "*", write, allow)
    # A harmless grant for the super user's request: Describe of a topic nobody has.
    control = CreateAclsRequest(
        topic, "vigie.control", literal, "User:nobody", "*", describe, allow
    )
    answers = []
    for node in cluster.nodes.values():
        host, port = node.address("CONTROLLER").split(":")
        conn = await create_conn(host, int(port), request_timeout_ms=5000)
        try:
            with pytest.raises(KafkaConnectionError):
                await conn.send(forged)
        finally:
            conn.close()
        # The same request, from the super user over SASL/PLAIN: the active controller takes
        # it, so the refusal above is the missing login's.
        conn = await create_conn(
            host,
            int(port),
            request_timeout_ms=5000,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_plain_username=admin().username,
            sasl_plain_password=admin().password,
        )
        try:
            response = await conn.send(control)
        finally:
            conn.close()
        answers += [code for code, _ in response.creation_responses]
    not_controller = 41
    assert sorted(answers) == [0, not_controller, not_controller]


@pytest.mark.broker
@on_kafka
def test_the_compose_healthcheck_answers_with_the_admin_login(cluster: Cluster) -> None:
    node = cluster.nodes["kafka-2"]
    command = _merged()["services"][node.name]["healthcheck"]["test"][1]
    assert f"{IMAGE_BIN}/" in command
    assert IMAGE_ADMIN_CONFIG in command
    local = re.search(r"--bootstrap-server (\S+)", command)
    assert local is not None
    command = (
        command.replace(f"{IMAGE_BIN}/", f"{cluster.bin_dir}/")
        .replace(IMAGE_ADMIN_CONFIG, str(node.admin_config))
        .replace(local[1], _translated(local[1], cluster.nodes, here=node))
    )
    done = subprocess.run(
        ["bash", "-c", command],
        env=_base_env(cluster.bin_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# -- what the compose files say ----------------------------------------------------------------


def test_every_listener_of_the_cluster_nodes_authenticates() -> None:
    merged = _merged()
    for name in NODES:
        env = environment(merged["services"][name])
        protocols = dict(
            entry.split(":") for entry in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
        )
        assert set(protocols) == set(listener_addresses(env["KAFKA_LISTENERS"]))
        assert set(protocols.values()) == {"SASL_PLAINTEXT"}
        assert env["VIGIE_KAFKA_ADMIN_PASSWORD"] == (
            "${VIGIE_KAFKA_ADMIN_PASSWORD:?set VIGIE_KAFKA_ADMIN_PASSWORD}"
        )
        definition = merged["services"][name]
        assert definition["entrypoint"] == ["/bin/bash", "/opt/vigie/kafka-node.sh"]
        assert (
            "./deploy/compose/kafka-node.sh:/opt/vigie/kafka-node.sh:ro" in (definition["volumes"])
        )


def test_the_cluster_security_job_runs_the_single_brokers_script_with_its_passwords() -> None:
    merged = _merged()
    job = merged["services"][SECURITY_JOB]
    single = merged["services"]["kafka-security"]
    assert job["profiles"] == ["cluster"]
    assert job["entrypoint"] == single["entrypoint"]
    assert job["volumes"] == single["volumes"]
    env = environment(job)
    passwords = {k: v for k, v in env.items() if k.startswith("VIGIE_KAFKA_PASSWORD_")}
    assert passwords == environment(single)
    assert {name: "service_healthy" for name in NODES} == {
        name: dependency["condition"] for name, dependency in job["depends_on"].items()
    }


def test_on_the_cluster_each_service_logs_in_as_its_own_user_once_the_acls_exist() -> None:
    merged = _merged()
    for service, user in SERVICE_USERS.items():
        definition = merged["services"][service]
        env = environment(definition)
        variable = f"VIGIE_KAFKA_PASSWORD_{service.upper()}"
        assert env["VIGIE_KAFKA_USERNAME"] == user
        assert env["VIGIE_KAFKA_PASSWORD"] == f"${{{variable}:?set {variable}}}"
        assert definition["depends_on"][SECURITY_JOB] == {
            "condition": "service_completed_successfully"
        }


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (
            {"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "HOST:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"},
            "listener CONTROLLER is PLAINTEXT: SASL_PLAINTEXT only",
        ),
        ({"KAFKA_SUPER_USERS": "User:ANONYMOUS"}, "the security properties are kafka-node.sh's"),
        ({"KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "true"}, "the security properties are"),
        ({"VIGIE_KAFKA_ADMIN_PASSWORD": 'a"b'}, "VIGIE_KAFKA_ADMIN_PASSWORD: no"),
        ({"VIGIE_KAFKA_ADMIN_PASSWORD": ""}, "set VIGIE_KAFKA_ADMIN_PASSWORD"),
    ],
    ids=["plaintext-listener", "super-users", "allow-everyone", "quote", "no-password"],
)
def test_the_node_script_refuses_to_start_a_node_less_strict(
    tmp_path: Path, change: dict[str, str], refusal: str
) -> None:
    """Before formatting anything: no kafka-*.sh is where KAFKA_BIN points."""
    node = environment(_merged()["services"]["kafka-1"])
    env = {
        **_base_env(tmp_path / "no-bin"),
        **{k: v for k, v in node.items() if k.startswith("KAFKA_") or k == "CLUSTER_ID"},
        "VIGIE_KAFKA_ADMIN_PASSWORD": "a-password",
        "KAFKA_NODE_CONFIG": str(tmp_path / "server.properties"),
        "KAFKA_ADMIN_CONFIG": str(tmp_path / "admin.properties"),
        **change,
    }
    done = subprocess.run(
        ["bash", str(NODE_SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode != 0
    assert refusal in done.stderr
    assert "kafka-storage.sh" not in done.stderr
