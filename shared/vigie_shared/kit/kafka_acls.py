"""Who may write and read which topic on Apache Kafka: one SCRAM principal per service (and one
for the accounting system, one for the platforms' data-system connectors), and the ACLs the
broker's ``StandardAuthorizer`` enforces for each. Events carry no signature, so ``ce_source``
(events.ALLOWED_SOURCES) only catches a misconfigured producer; a forger with network access
is stopped here, by the broker refusing its write (GDPR Art. 32(1)(b): integrity of the
processing systems). The writers are derived from the event catalog's allowed sources, so that
the two lines of defence cannot disagree. ``ApacheKafka`` applies this table in the tests,
compose's init job and Strimzi's ``KafkaUser`` manifests hold the same (tests/deploy checks)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from vigie_shared import events, topics

Operation = Literal["Read", "Write", "Describe", "Create"]
ResourceType = Literal["topic", "group"]
PatternType = Literal["literal", "prefix"]

ADMIN = "admin"
"""The broker's super user: it authenticates the node's own inter-broker traffic and creates
the other principals' ACLs. No service uses it."""

ACCOUNTING = "accounting"
DATA_SYSTEM = "data-system"
"""A platform's connector (kit/data_system.py run outside the three services)."""


def user_of(service: str) -> str:
    """A service's user name: a Kubernetes object name (Strimzi's ``KafkaUser`` is named for
    its user, RFC 1123 labels), so without the underscore."""
    return service.replace("_", "-")


SERVICE_USERS: dict[str, str] = {service: user_of(service) for service in events.SERVICE_SOURCES}

DATA_SYSTEM_HOSTS: tuple[str, ...] = ("sso_gateway", "audit_log")
"""The services that are themselves data systems (they answer dpo.tasks with task results)."""

READS: dict[str, tuple[str, ...]] = {
    # docs/architecture.md, the topic table's consumer column.
    user_of("sso_gateway"): (topics.BILLING, topics.DPO_TASKS),
    user_of("dpo_requests"): (topics.IDENTITY, topics.DPO_TASK_RESULTS),
    user_of("audit_log"): topics.ALL,
    DATA_SYSTEM: (topics.DPO_TASKS,),
    ACCOUNTING: (),
}

WATCHES: dict[str, tuple[str, ...]] = {
    # Read without a consumer group and without dead-lettering: the accounting office follows
    # the suspensions and restorations its reminders caused (the campaign's figures; `vigie
    # simulate billing` waits on them), and reads back its own billing facts (the demo payment
    # portal rebuilds its ledger of open debts from them).
    ACCOUNTING: (topics.ACCESS, topics.BILLING),
}

GROUP_PREFIXES: dict[str, str] = {
    # Consumer groups are named <service>.<purpose> (Runtime.consumer).
    **{user: f"{service}." for service, user in SERVICE_USERS.items()},
    DATA_SYSTEM: f"{DATA_SYSTEM}.",
}


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: ``principal`` (a SCRAM user name) may ``operation`` on the resource."""

    principal: str
    resource_type: ResourceType
    name: str
    operation: Operation
    pattern: PatternType = "literal"


def _writes_by_source() -> dict[str, set[str]]:
    writes: dict[str, set[str]] = {}
    for event_type, sources in events.ALLOWED_SOURCES.items():
        topic = events.EVENT_TYPES[event_type].topic
        for service, source in events.SERVICE_SOURCES.items():
            if source in sources:
                writes.setdefault(user_of(service), set()).add(topic)
    for event_type in events.ALLOWED_SOURCE_PREFIXES:
        writes.setdefault(ACCOUNTING, set()).add(events.EVENT_TYPES[event_type].topic)
    # The types no source list restricts: the data systems' task results.
    open_topics = {
        cls.topic
        for cls in events.EVENT_TYPES.values()
        if cls.event_type not in events.ALLOWED_SOURCES
        and cls.event_type not in events.ALLOWED_SOURCE_PREFIXES
    }
    for writer in (*map(user_of, DATA_SYSTEM_HOSTS), DATA_SYSTEM):
        writes.setdefault(writer, set()).update(open_topics)
    return writes


def writes() -> dict[str, tuple[str, ...]]:
    """The topics each principal may produce to (dead-letter topics apart)."""
    return {name: tuple(sorted(found)) for name, found in sorted(_writes_by_source().items())}


def principals() -> tuple[str, ...]:
    """Every principal but the super user."""
    return tuple(sorted({*SERVICE_USERS.values(), ACCOUNTING, DATA_SYSTEM}))


def grants() -> tuple[Grant, ...]:
    """The whole table, sorted."""
    table: set[Grant] = set()
    written = writes()
    all_topics = [*topics.ALL, *(topics.dlq(name) for name in topics.ALL)]
    for principal in principals():
        for topic in written.get(principal, ()):
            table.add(Grant(principal, "topic", topic, "Write"))
        for topic in READS[principal]:
            table.add(Grant(principal, "topic", topic, "Read"))
            # A consumer dead-letters what it cannot handle (kit/dead_letters.py).
            table.add(Grant(principal, "topic", topics.dlq(topic), "Write"))
        if READS[principal]:
            table.add(Grant(principal, "group", GROUP_PREFIXES[principal], "Read", "prefix"))
        for topic in WATCHES.get(principal, ()):
            table.add(Grant(principal, "topic", topic, "Read"))
        if principal in SERVICE_USERS.values():
            # Each service creates the missing topics on start (kit/kafka.ensure_topics), which
            # lists them first: creating or describing a topic writes nothing to it.
            for topic in all_topics:
                table.add(Grant(principal, "topic", topic, "Describe"))
                table.add(Grant(principal, "topic", topic, "Create"))
    return tuple(sorted(table))


def grants_of(principal: str, table: Iterable[Grant] | None = None) -> tuple[Grant, ...]:
    return tuple(g for g in (grants() if table is None else table) if g.principal == principal)
