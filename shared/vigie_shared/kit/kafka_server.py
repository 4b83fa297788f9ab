"""Apache Kafka (KRaft) on this machine, from the jars that ``tools/kafka/pom.xml`` pins: one
combined broker+controller for ``vigie up`` and the tests, or a three-node cluster for the fault
tests. Unlike Tansu (kit/embedded.py), its log is on disk: a second ``start`` of the same data
directory keeps its topics, records and consumer-group offsets."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import fcntl
import functools
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiokafka import AIOKafkaClient, TopicPartition
from aiokafka.client import CoordinationType
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import CreateAclsRequest

from vigie_shared.kit.embedded import _die_with_parent, free_port, port_open
from vigie_shared.kit.kafka import KafkaCredentials, client_security
from vigie_shared.kit.kafka_acls import ADMIN, Grant

log = logging.getLogger(__name__)

T = TypeVar("T")

JARS_ENV = "VIGIE_KAFKA_JARS"
POM = Path("tools") / "kafka" / "pom.xml"
MIN_JAVA = 17
# The group and transaction coordinators' topics: fewer partitions than the default fifty, as
# each one is created (and, on the cluster, replicated thrice) when the first group appears.
COORDINATOR_PARTITIONS = 10

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


def repo_root(start: Path | None = None) -> Path | None:
    """The checkout holding ``tools/kafka/pom.xml``: above this module, else above ``start``
    (the current directory by default)."""
    here = Path(__file__).resolve()
    for candidate in [*here.parents, *(start or Path.cwd()).resolve().parents]:
        if (candidate / POM).is_file():
            return candidate
    cwd = (start or Path.cwd()).resolve()
    return cwd if (cwd / POM).is_file() else None


def kafka_version(root: Path | None = None) -> str | None:
    """The version the pom pins (its ``kafka.version`` property)."""
    root = root or repo_root()
    if root is None:
        return None
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom = ET.parse(root / POM)  # noqa: S314 - the repository's own pom, not outside input
    found = pom.getroot().find("m:properties/m:kafka.version", ns)
    return found.text if found is not None else None


def jars_dir(root: Path | None = None) -> Path:
    configured = os.environ.get(JARS_ENV)
    if configured:
        return Path(configured)
    root = root or repo_root()
    if root is None:
        raise RuntimeError(f"no {POM} above {Path.cwd()}: set {JARS_ENV} to the broker's jars")
    return root / ".tools" / "kafka"


def _jars_present(directory: Path, version: str | None) -> bool:
    pattern = f"kafka_2.13-{version}.jar" if version else "kafka_2.13-*.jar"
    return any(directory.glob(pattern)) and any(directory.glob("log4j-slf4j2-impl-*.jar"))


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


@functools.cache
def _java_major(java: str) -> int | None:
    try:
        shown = subprocess.run(  # noqa: S603 - the machine's java, fixed arguments
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    if match is None:
        return None
    major = int(match[1])
    # Java 8 and older called themselves "1.8".
    return int(match[2] or 0) if major == 1 else major


def kafka_unavailable_reason() -> str | None:
    """None when Apache Kafka can run here (Java 17 or later, and its jars or Maven to fetch
    them); otherwise why not, in one line."""
    java = _java()
    if java is None:
        return f"no java on PATH: Apache Kafka needs Java {MIN_JAVA} or later"
    major = _java_major(java)
    if major is None or major < MIN_JAVA:
        return f"{java} is Java {major or 'of unknown version'}: Apache Kafka needs {MIN_JAVA}+"
    root = repo_root()
    try:
        directory = jars_dir(root)
    except RuntimeError as exc:
        return str(exc)
    if _jars_present(directory, kafka_version(root) if root else None):
        return None
    if shutil.which("mvn") is None:
        return f"no Apache Kafka jars in {directory} and no mvn on PATH to fetch them"
    if root is None:
        return f"no Apache Kafka jars in {directory} and no {POM} to fetch them with"
    return None


def ensure_kafka_jars(root: Path | None = None) -> Path:
    """The directory of the broker's jars, copied there by Maven the first time. A lock keeps
    two processes (pytest workers, ``vigie up``) from copying at once; the copy goes to a
    scratch directory renamed into place, so that an interrupted one is not taken for done."""
    root = root or repo_root()
    directory = jars_dir(root)
    version = kafka_version(root) if root else None
    if _jars_present(directory, version):
        return directory
    if root is None:
        raise RuntimeError(f"no Apache Kafka jars in {directory} and no {POM} to fetch them")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(f"no Apache Kafka jars in {directory} and no mvn on PATH")
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / ".kafka-jars.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _jars_present(directory, version):
            return directory
        scratch = directory.with_name(f"{directory.name}.partial")
        shutil.rmtree(scratch, ignore_errors=True)
        log.info("fetching Apache Kafka %s with Maven into %s", version, directory)
        subprocess.run(  # noqa: S603 - the machine's mvn on our pinned pom
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={scratch}",
                "-DincludeScope=runtime",
            ],
            cwd=root / POM.parent,
            check=True,
        )
        shutil.rmtree(directory, ignore_errors=True)
        scratch.rename(directory)
    return directory


def new_cluster_id() -> str:
    """A KRaft cluster id as ``kafka-storage random-uuid`` prints it: 16 random bytes in
    unpadded URL-safe base64, never starting with a dash (it would read as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def _off_loop(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from synchronous code, also when the caller is itself inside
    an event loop (a test that restarts a broker): on a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


async def _metadata(bootstrap: str, credentials: KafkaCredentials | None = None) -> AIOKafkaClient:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_security(credentials)
    )
    try:
        await client.bootstrap()
    except BaseException:
        await client.close()
        raise
    return client


def _live_brokers(bootstrap: str, credentials: KafkaCredentials | None = None) -> set[int]:
    """The node ids of the brokers that ``bootstrap`` says are registered and unfenced."""

    async def ask() -> set[int]:
        client = await _metadata(bootstrap, credentials)
        try:
            return {broker.nodeId for broker in client.cluster.brokers()}
        finally:
            await client.close()

    try:
        return _off_loop(ask)
    except Exception:  # not answering yet, whatever the reason
        return set()


def java_string_hash(text: str) -> int:
    """``String.hashCode()`` of an ASCII string, as the JVM computes it (32-bit, signed)."""
    h = 0
    for char in text:
        h = (31 * h + ord(char)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def coordinator_probes(partitions: int = COORDINATOR_PARTITIONS) -> list[str]:
    """One group id for each partition of ``__consumer_offsets``: a group's coordinator is the
    leader of partition ``Utils.abs(groupId.hashCode()) % partitions`` (Kafka's
    ``GroupCoordinatorService.partitionFor``; ``Utils.abs`` maps ``Integer.MIN_VALUE`` to 0)."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < partitions:
        key = f"vigie-coordinator-probe-{n}"
        h = java_string_hash(key)
        found.setdefault((0 if h == -(1 << 31) else abs(h)) % partitions, key)
        n += 1
    return [found[p] for p in sorted(found)]


def _await_coordinators(
    bootstrap: str, credentials: KafkaCredentials | None, timeout: float
) -> None:
    """Until every partition of ``__consumer_offsets`` has a loaded coordinator. A fresh broker
    creates that topic on the first FindCoordinator and answers COORDINATOR_NOT_AVAILABLE while
    its partitions load: asked here first, the services' consumers find their coordinators at
    once instead of each logging the error until then."""

    async def ask() -> None:
        client = await _metadata(bootstrap, credentials)
        try:
            pending = coordinator_probes()
            deadline = time.monotonic() + timeout
            while True:
                left = []
                for key in pending:
                    try:
                        await client.coordinator_lookup(CoordinationType.GROUP, key)
                    except KafkaError as error:
                        if not error.retriable:
                            raise
                        left.append(key)
                pending = left
                if not pending:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no group coordinator on {bootstrap} for {pending}")
                await asyncio.sleep(0.2)
        finally:
            await client.close()

    _off_loop(ask)


# The ACL enums of the Kafka protocol (CreateAcls, KIP-140; pattern types, KIP-290).
_RESOURCE_TYPES = {"topic": 2, "group": 3}
_PATTERN_TYPES = {"literal": 3, "prefix": 4}
_OPERATIONS = {"Read": 3, "Write": 4, "Create": 5, "Describe": 8}
_ALLOW = 3


async def create_acls(
    bootstrap: str, credentials: KafkaCredentials, grants: Iterable[Grant]
) -> None:
    """Create ``grants`` as ALLOW ACLs from any host, as the super user ``credentials`` (the
    broker forwards them to the controller, which keeps them in the metadata log). aiokafka's
    admin client has no call for it: the protocol request itself."""
    creations = [
        (
            _RESOURCE_TYPES[g.resource_type],
            g.name,
            _PATTERN_TYPES[g.pattern],
            f"User:{g.principal}",
            "*",
            _OPERATIONS[g.operation],
            _ALLOW,
        )
        for g in grants
    ]
    if not creations:
        return
    client = await _metadata(bootstrap, credentials)
    try:
        node = next(iter(client.cluster.brokers())).nodeId
        # aiokafka's request carries one creation: one each, on the same connection.
        responses = await asyncio.gather(
            *(client.send(node, CreateAclsRequest(*creation)) for creation in creations)
        )
    finally:
        await client.close()
    failed = [
        f"{creation[3]} on {creation[1]}: {for_code(code).__name__} {message or ''}".strip()
        for creation, response in zip(creations, responses, strict=True)
        for code, message in response.creation_responses
        if code != 0
    ]
    if failed:
        raise RuntimeError(f"CreateAcls refused: {failed}")


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
            quorum.controllers[node_id] if quorum else free_port(host)
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
        java = _java()
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
            if port_open(self.host, self.port) and self.node_id in _live_brokers(
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
            _off_loop(lambda: create_acls(self.bootstrap, admin, self._acls))
        if self._quorum is None:
            _await_coordinators(self.bootstrap, admin, timeout)
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
        quorum = _Quorum(
            cluster_id=new_cluster_id(),
            controllers={n: free_port(host) for n in ids},
            replication=size,
            min_insync=min(min_insync, size),
        )
        self.nodes = [
            ApacheKafka(
                data_dir=data_dir / f"node-{n}",
                host=host,
                port=free_port(host),
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
            _await_coordinators(self.bootstrap, None, timeout)
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
        return _live_brokers(running) if running else set()

    def leader_of(self, topic: str, partition: int) -> ApacheKafka:
        """The node that leads ``topic``'s ``partition`` now."""
        running = ",".join(node.bootstrap for node in self.nodes if node.running())

        async def ask() -> int | None:
            client = await _metadata(running)
            try:
                await client.force_metadata_update()
                leader: int | None = client.cluster.leader_for_partition(
                    TopicPartition(topic, partition)
                )
                return leader
            finally:
                await client.close()

        leader = _off_loop(ask)
        if leader is None or leader < 0:
            raise LookupError(f"{topic}[{partition}] has no leader")
        return self.node(leader)

    def __enter__(self) -> ApacheKafkaCluster:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
