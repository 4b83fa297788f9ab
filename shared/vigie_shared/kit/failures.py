"""Which failures are the message's fault: the one classification a consumer asks before it
retries a record or gives up on it, and dead-lettering asks before it gives up on a copy.

A failure is *transient* when the world is at fault (the database or the broker unreachable, a
timeout): the record is fine and is retried, never dead-lettered. Anything else is *permanent*
for that record, and retrying it for ever would wedge its partition: after bounded retries it
becomes a dead letter (``dead_letters``).
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import (
    BrokerNotAvailableError,
    CommitFailedError,
    IllegalGenerationError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    KafkaUnavailableError,
    NoBrokersAvailable,
    ProducerClosed,
    QuotaViolationError,
    RebalanceInProgressError,
    ReplicaNotAvailableError,
    UnknownMemberIdError,
)

DATABASE_UNREACHABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
)
"""The database connection failing, whatever the query: a consumer retries, an endpoint
answers 503."""

_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    *DATABASE_UNREACHABLE,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NoBrokersAvailable,
    # Not flagged retriable by aiokafka, but a broker restarting or a group rebalancing says
    # nothing about the record.
    BrokerNotAvailableError,
    ReplicaNotAvailableError,
    KafkaUnavailableError,
    QuotaViolationError,
    RebalanceInProgressError,
    CommitFailedError,
    IllegalGenerationError,
    UnknownMemberIdError,
    # Raised while the service shuts down: the batch is redelivered after the restart.
    ProducerClosed,
)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is the world's fault, not the record's: retry, never dead-letter.

    Kafka errors are transient only when aiokafka marks them retriable (a leader moving, a
    broker not ready) or when they are connection failures and timeouts; the others, such as
    ``MessageSizeTooLargeError``, ``RecordTooLargeError`` or an authorisation failure, would fail
    the same way every time. A serialisation failure or a deadlock between two transactions is
    PostgreSQL asking for the transaction to be run again (PostgreSQL docs, 13.2.3)."""
    if isinstance(exc, _TRANSIENT):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)
