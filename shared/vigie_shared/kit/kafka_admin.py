"""What the kit asks a running Apache Kafka over the protocol, from synchronous code: which
brokers are live, whether every group has a coordinator yet, and the ACLs to create."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from aiokafka import AIOKafkaClient
from aiokafka.client import CoordinationType
from aiokafka.errors import IncompatibleBrokerVersion, KafkaError, for_code
from aiokafka.protocol.admin import CreateAclsRequest, CreateAclsRequestStruct

from vigie_shared.kit.kafka import KafkaCredentials, client_security
from vigie_shared.kit.kafka_acls import Grant

T = TypeVar("T")

# The group and transaction coordinators' topics: fewer partitions than the default fifty, as
# each one is created (and, on the cluster, replicated thrice) when the first group appears.
COORDINATOR_PARTITIONS = 10


def off_loop(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from synchronous code, also when the caller is itself inside
    an event loop (a test that restarts a broker): on a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


async def metadata_client(
    bootstrap: str, credentials: KafkaCredentials | None = None
) -> AIOKafkaClient:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_security(credentials)
    )
    try:
        await client.bootstrap()
    except BaseException:
        await client.close()
        raise
    return client


def live_brokers(bootstrap: str, credentials: KafkaCredentials | None = None) -> set[int]:
    """The node ids of the brokers that ``bootstrap`` says are registered and unfenced."""

    async def ask() -> set[int]:
        client = await metadata_client(bootstrap, credentials)
        try:
            return {broker.nodeId for broker in client.cluster.brokers()}
        finally:
            await client.close()

    try:
        return off_loop(ask)
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


def await_coordinators(
    bootstrap: str, credentials: KafkaCredentials | None, timeout: float
) -> None:
    """Until every partition of ``__consumer_offsets`` has a loaded coordinator. A fresh broker
    creates that topic on the first FindCoordinator and answers COORDINATOR_NOT_AVAILABLE while
    its partitions load: asked here first, the services' consumers find their coordinators at
    once instead of each logging the error until then."""

    async def ask() -> None:
        client = await metadata_client(bootstrap, credentials)
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

    off_loop(ask)


# The ACL enums of the Kafka protocol (CreateAcls, KIP-140; pattern types, KIP-290).
_RESOURCE_TYPES = {"topic": 2, "group": 3}
_PATTERN_TYPES = {"literal": 3, "prefix": 4}
_OPERATIONS = {"Read": 3, "Write": 4, "Create": 5, "Describe": 8}
_ALLOW = 3


class _CreateAclsBatch(CreateAclsRequest):
    """One CreateAcls request carrying every creation: the protocol's ``creations`` is an
    array, aiokafka's builder fills it with one. The controller then applies them as one
    batch of its metadata log, instead of a forwarded request (and a log append) each."""

    def __init__(self, creations: list[tuple[int, str, int, str, str, int, int]]) -> None:
        self._creations = creations

    def build(self, request_struct_class: type[CreateAclsRequestStruct]) -> CreateAclsRequestStruct:
        # Pattern types (KIP-290) need v1 or later, as aiokafka's own builder does.
        if request_struct_class.API_VERSION < 1:
            raise IncompatibleBrokerVersion("CreateAcls with pattern types needs v1")
        return request_struct_class(self._creations)


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
    client = await metadata_client(bootstrap, credentials)
    try:
        node = next(iter(client.cluster.brokers())).nodeId
        response = await client.send(node, _CreateAclsBatch(creations))
    finally:
        await client.close()
    failed = [
        f"{creation[3]} on {creation[1]}: {for_code(code).__name__} {message or ''}".strip()
        for creation, (code, message) in zip(creations, response.creation_responses, strict=True)
        if code != 0
    ]
    if failed:
        raise RuntimeError(f"CreateAcls refused: {failed}")
