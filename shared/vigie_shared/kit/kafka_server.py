"""Apache Kafka (KRaft) on this machine, from the jars that ``tools/kafka/pom.xml`` pins: one
combined broker+controller for ``vigie up`` and the tests, or a three-node cluster for the fault
tests. Unlike Tansu (kit/embedded.py), its log is on disk: a second ``start`` of the same data
directory keeps its topics, records and consumer-group offsets. The jars and Java are
kit/kafka_jars.py's; what is asked of a running broker, kit/kafka_admin.py's. One idea, a node's
life (its properties, format, launch, readiness, kill, stop) and a cluster of them, which is
why the node class is long."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiokafka import TopicPartition

from vigie_shared.kit.embedded import _die_with_parent, free_port, free_ports, port_open
from vigie_shared.kit.kafka import KafkaCredentials
from vigie_shared.kit.kafka_acls import ADMIN, Grant
from vigie_shared.kit.kafka_admin import (
    COORDINATOR_PARTITIONS,
    await_coordinators,
    create_acls,
    live_brokers,
    metadata_client,
    off_loop,
)
from vigie_shared.kit.kafka_jars import ensure_kafka_jars, find_java, kafka_unavailable_reason

log = logging.getLogger(__name__)


LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


def new_cluster_id() -> str:
    """A KRaft cluster id as ``kafka-storage random-uuid`` prints it: 16 random bytes in
    unpadded URL-safe base64, never starting with a dash (it would read as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


@dataclass(frozen=True)
class _Quorum:
    """The static KRaft voter set that every node of one cluster shares."""

    cluster_id: str
    controllers: Mapping[int, int]  # node id -> controller port
    replication: int
    min_insync: int


class ApacheKafka:
    """One Apache Kafka node in KRaft combined mode (broker and controller in one JVM).

    Alone (the default), it is a cluster of one: replication factor 1. ``ApacheKafkaCluster``
    builds its nodes with ``node_id`` and a shared quorum."""

    def __init__(
        self,
        *,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 9092,
        controller_port: int | None = None,
        log_file: Path | None = None,
        heap: str = "512m",
        pid_file: Path | None = None,
        node_id: int = 1,
        quorum: _Quorum | None = None,
        users: Mapping[str, str] | None = None,
        acls: Iterable[Grant] | None = None,
    ) -> None:
        """``users`` (SCRAM user name -> password) turns authentication on: the client listener
        takes only SASL/SCRAM-SHA-512, the ``StandardAuthorizer`` refuses whatever no ACL of
        ``acls`` allows, and a super user ``admin`` (its password generated once per data
        directory unless ``users`` names one) authenticates the node itself. Credentials are
        written when the data directory is formatted: a later start with other users keeps the
        first ones. Without ``users``: one plaintext listener, no authorization."""
        if acls is not None and users is None:
            raise ValueError("ACLs without users: no client could authenticate to be granted them")
        for name, password in (users or {}).items():
            # kafka-storage's --add-scram and the JAAS line have no quoting for these.
            if not name or set(name + password) & set(',[]="\\ '):
                raise ValueError(f'user {name!r}: names and passwords without ,[]="\\ or spaces')
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.controller_port = controller_port or (
            quorum.controllers[node_id] if quorum else free_port(host, avoid=(port,))
        )
        self.log_file = log_file or data_dir / "server.log"
        self.heap = heap
        self.node_id = node_id
        self._pid_file = pid_file
        self._quorum = quorum
        self._users = dict(users) if users is not None else None
        self._acls = tuple(acls or ())
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def secured(self) -> bool:
        return self._users is not None

    @property
    def admin(self) -> KafkaCredentials | None:
        """The super user's credentials; None on a node without authentication."""
        if self._users is None:
            return None
        password = self._users.get(ADMIN)
        if password is None:
            # Generated once, kept beside the log: the node's own login must match the
            # credential formatted into its metadata.
            stored = self.data_dir / "admin.password"
            if not stored.exists():
                self.data_dir.mkdir(parents=True, exist_ok=True)
                self._write_private(stored, secrets.token_urlsafe(24))
            password = stored.read_text().strip()
            self._users[ADMIN] = password
        return KafkaCredentials(ADMIN, password)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _properties(self) -> str:
        quorum = self._quorum
        voters = (
            ",".join(f"{n}@{self.host}:{p}" for n, p in sorted(quorum.controllers.items()))
            if quorum
            else f"{self.node_id}@{self.host}:{self.controller_port}"
        )
        replication = quorum.replication if quorum else 1
        min_insync = quorum.min_insync if quorum else 1
        client = "SASL_PLAINTEXT" if self.secured else "PLAINTEXT"
        settings: dict[str, object] = {
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"{client}://{self.host}:{self.port},"
            f"CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"{client}://{self.host}:{self.port}",
            "listener.security.protocol.map": f"{client}:{client},CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": client,
            **self._security_properties(),
            "log.dirs": self.log_dir,
            # The topics are the services' to create (ensure_topics), as in compose and Strimzi.
            "auto.create.topics.enable": "false",
            "default.replication.factor": replication,
            "min.insync.replicas": min_insync,
            "offsets.topic.replication.factor": replication,
            "offsets.topic.num.partitions": COORDINATOR_PARTITIONS,
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": min_insync,
            "transaction.state.log.num.partitions": COORDINATOR_PARTITIONS,
            "share.coordinator.state.topic.replication.factor": replication,
            "share.coordinator.state.topic.min.isr": min_insync,
            "unclean.leader.election.enable": "false",
            "group.initial.rebalance.delay.ms": 0,
            # Below the broker's default floor (6 s): a consumer of a local stack or a test may
            # ask for a shorter session (kafka_session_timeout_ms), to be moved off sooner.
            "group.min.session.timeout.ms": 1000,
            # A machine of two cores runs several of these: fewer threads than the defaults.
            "num.network.threads": 2,
            "num.io.threads": 4,
            "background.threads": 4,
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _security_properties(self) -> dict[str, object]:
        admin = self.admin
        if admin is None:
            return {}
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{admin.username}" password="{admin.password}";'
        )
        return {
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            # The broker reaches its controller over the loopback CONTROLLER listener, which
            # stays PLAINTEXT (KRaft keeps SCRAM credentials in the metadata log that listener
            # serves), where its principal is ANONYMOUS: that listener is bound to this host
            # only and is no client's bootstrap.
            "super.users": f"User:{admin.username};User:ANONYMOUS",
        }

    def _write_private(self, path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o600)

    def _java_args(self, jars: Path, java: str, *main: str) -> list[str]:
        return [
            java,
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            f"{jars}/*",
            *main,
        ]

    def _preexec(self) -> Callable[[], None]:
        die = _die_with_parent()

        def in_child() -> None:
            # Kafka's segments, checkpoints and meta.properties: for this user alone.
            os.umask(0o077)
            if die is not None:
                die()

        return in_child

    def _reap_orphan(self) -> None:
        """A node left behind by a run that was killed outright would hold its ports and its
        log directory's lock forever."""
        if self._pid_file is None or not self._pid_file.exists():
            return
        with contextlib.suppress(ValueError, OSError):
            pid = int(self._pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"kafka.Kafka" in cmdline and str(self.data_dir).encode() in cmdline:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 30
                while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)

    def _format_once(self, jars: Path, java: str) -> None:
        """``kafka-storage format``, unless the log directory already holds a cluster (its
        ``meta.properties``): formatting again would not keep the data."""
        if (self.log_dir / "meta.properties").exists():
            return
        cluster_id = self._quorum.cluster_id if self._quorum else new_cluster_id()
        args = self._java_args(jars, java, "kafka.tools.StorageTool", "format")
        args += ["-t", cluster_id, "-c", str(self.data_dir / "server.properties")]
        # ``admin`` puts the super user among the users, with the password the node logs in with.
        if self.admin is not None and self._users is not None:
            # On the command line for the few seconds formatting takes, where other local users
            # may read it (/proc): fit for the tests' and development nodes; compose and Strimzi
            # create their users otherwise.
            for name, password in sorted(self._users.items()):
                args += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
        done = subprocess.run(  # noqa: S603 - the machine's java, our arguments
            args,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            preexec_fn=self._preexec(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"kafka-storage format failed: {done.stdout}{done.stderr}")

    def launch(self) -> None:
        """Write the configuration, format once, start the JVM; do not wait for it."""
        if self.running():
            return
        self._reap_orphan()
        for port in (self.port, self.controller_port):
            if port_open(self.host, port):
                raise RuntimeError(f"port {self.host}:{port} is taken: is another broker running?")
        jars = ensure_kafka_jars()
        java = find_java()
        if java is None:
            raise RuntimeError(kafka_unavailable_reason() or "no java")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._write_private(self.data_dir / "server.properties", self._properties())
        self._write_private(self.data_dir / "log4j2.properties", LOG4J2)
        self._format_once(jars, java)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self.log_file.chmod(0o600)
            args = self._java_args(
                jars, java, "kafka.Kafka", str(self.data_dir / "server.properties")
            )
            self._process = subprocess.Popen(  # noqa: S603 - the machine's java, our arguments
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self._preexec(),
            )
        if self._pid_file is not None:
            self._write_private(self._pid_file, str(self._process.pid))

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until this node's own metadata lists it as a live broker (registered with the
        controller quorum and unfenced), which is when it takes produce and fetch requests."""
        deadline = time.monotonic() + timeout
        while True:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise RuntimeError(f"Apache Kafka exited with code {code}; see {self.log_file}")
            if port_open(self.host, self.port) and self.node_id in live_brokers(
                self.bootstrap, self.admin
            ):
                log.info(
                    "Apache Kafka node %s on %s (pid %s)", self.node_id, self.bootstrap, self.pid
                )
                return
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(
                    f"Apache Kafka not ready on {self.bootstrap}; see {self.log_file}"
                )
            time.sleep(0.3)

    def start(self, timeout: float = 90.0) -> ApacheKafka:
        self.launch()
        self.wait_ready(timeout)
        admin = self.admin
        if admin is not None and self._acls:
            # Creating an ACL that exists already is no error: a restart applies them again.
            off_loop(lambda: create_acls(self.bootstrap, admin, self._acls))
        if self._quorum is None:
            await_coordinators(self.bootstrap, admin, timeout)
        return self

    def _reaped(self) -> None:
        self._process = None
        if self._pid_file is not None:
            self._pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no controlled shutdown, no flush."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._reaped()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown: leadership moved, log flushed), SIGKILL if it takes
        longer than ``timeout``."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reaped()

    def __enter__(self) -> ApacheKafka:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ApacheKafkaCluster:
    """``size`` combined nodes sharing one static controller quorum: topics replicated on three
    nodes by default, a write acknowledged once two replicas have it (``min.insync.replicas``),
    so that one node may crash without losing an acknowledged record or refusing writes."""

    def __init__(
        self,
        *,
        data_dir: Path,
        size: int = 3,
        host: str = "127.0.0.1",
        heap: str = "512m",
        log_dir: Path | None = None,
        min_insync: int = 2,
    ) -> None:
        self.data_dir = data_dir
        ids = range(1, size + 1)
        ports = free_ports(2 * size, host)
        quorum = _Quorum(
            cluster_id=new_cluster_id(),
            controllers={n: ports[n - 1] for n in ids},
            replication=size,
            min_insync=min(min_insync, size),
        )
        self.nodes = [
            ApacheKafka(
                data_dir=data_dir / f"node-{n}",
                host=host,
                port=ports[size + n - 1],
                log_file=(log_dir or data_dir) / f"kafka-{n}.log",
                heap=heap,
                node_id=n,
                quorum=quorum,
            )
            for n in ids
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> ApacheKafka:
        return next(node for node in self.nodes if node.node_id == node_id)

    def start(self, timeout: float = 120.0) -> ApacheKafkaCluster:
        """Every node at once (none is ready before a majority of controllers runs)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_ready(timeout)
            await_coordinators(self.bootstrap, None, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            if node.running():
                assert node._process is not None
                node._process.terminate()
        for node in self.nodes:
            node.stop()

    def restart(self, node: ApacheKafka, timeout: float = 90.0) -> None:
        node.stop()
        node.start(timeout)

    def live(self) -> set[int]:
        """The node ids the running nodes' metadata lists as live brokers."""
        running = ",".join(node.bootstrap for node in self.nodes if node.running())
        return live_brokers(running) if running else set()

    def leader_of(self, topic: str, partition: int) -> ApacheKafka:
        """The node that leads ``topic``'s ``partition`` now."""
        running = ",".join(node.bootstrap for node in self.nodes if node.running())

        async def ask() -> int | None:
            client = await metadata_client(running)
            try:
                await client.force_metadata_update()
                leader: int | None = client.cluster.leader_for_partition(
                    TopicPartition(topic, partition)
                )
                return leader
            finally:
                await client.close()

        leader = off_loop(ask)
        if leader is None or leader < 0:
            raise LookupError(f"{topic}[{partition}] has no leader")
        return self.node(leader)

    def __enter__(self) -> ApacheKafkaCluster:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
