"""Every Kafka contract of Vigie, in one module (docs/architecture.md, "Events").

Events are CloudEvents 1.0 carried in Kafka *binary content mode*: the attributes travel as
``ce_*`` headers, the value is the JSON ``data`` and the Kafka key is the data subject (or the
request id for DPO tasks) so that one person's events stay ordered on one partition.
Types are past-tense facts under the ``vigie.`` prefix and only ever change by addition.

Why one module, past the size a file usually keeps: the contracts are the one place where the
three services and the accounting system meet, so a producer and its consumers read the same
class, the catalogue (``EVENT_TYPES``) sees every type, and a change to any contract shows in one
file's history, reviewed as the compatibility promise it is. The classes are small and alike;
splitting them by service would hide what one service's event means to another.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from vigie_shared import topics
from vigie_shared.kit.clock import utcnow

SPECVERSION = "1.0"


class EventData(BaseModel):
    """Payload of one event type; subclasses name their CloudEvents ``type`` and topic."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]


D = TypeVar("D", bound=EventData)


class CloudEvent(BaseModel, Generic[D]):
    """A CloudEvents 1.0 envelope (spec section 3: required and optional context attributes)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique per source; consumers dedupe on it (inbox).")
    source: str = Field(examples=["/vigie/sso_gateway"])
    type: str = Field(examples=["vigie.access.suspended"])
    specversion: Literal["1.0"] = "1.0"
    time: datetime
    subject: str = Field(description="The data subject's id, or the request id for DPO tasks.")
    data: D


def new_event(
    data: D,
    *,
    subject: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent[D]:
    """``time`` is when the occurrence happened (CloudEvents §3.1.1), now unless given."""
    return CloudEvent[D](
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=data.event_type,
        time=time or utcnow(),
        subject=subject,
        data=data,
    )


class Actor(BaseModel):
    """Who caused a fact: a person (by user id), a service, or the system's own scheduler."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["user", "service", "system"] = Field(examples=["user"])
    id: str = Field(examples=["u-1234", "accounting", "grace-scheduler"])


class RequestType(StrEnum):
    """GDPR rights: Art. 15 access, 16 rectification, 17 erasure, 18 restriction, 20 portability,
    21 objection."""

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"


class TaskAction(StrEnum):
    EXPORT = "export"
    ERASE = "erase"
    RECTIFY = "rectify"
    RESTRICT = "restrict"
    OBJECT = "object"


class PaymentChannel(StrEnum):
    CPA = "CPA"
    """Contrat de prélèvement automatique: direct-debit contract."""
    CARD = "card"


class LoginSucceeded(EventData):
    event_type = "vigie.sso.login.succeeded"
    topic = topics.IDENTITY
    user_id: str
    client_id: str | None = None
    session_id: str
    ip: str | None = None


class LoginFailed(EventData):
    event_type = "vigie.sso.login.failed"
    topic = topics.IDENTITY
    user_id: str | None = Field(None, description="Known account, else None (no enumeration).")
    reason: str = Field(examples=["bad_credentials", "throttled", "suspended"])
    ip: str | None = None


class SessionRevoked(EventData):
    event_type = "vigie.sso.session.revoked"
    topic = topics.IDENTITY
    user_id: str
    session_id: str
    reason: str = Field(examples=["logout", "suspension", "erasure"])


class TokenRevoked(EventData):
    """An access token the gateway no longer honours (RFC 7009 revocation, a reused code or
    refresh token revoking its grant): resource servers refuse its ``jti`` until ``exp``, after
    which the token is refused anyway. A session's tokens are revoked by
    ``vigie.sso.session.revoked`` (its ``session_id`` is the tokens' ``sid``)."""

    event_type = "vigie.sso.token.revoked"
    topic = topics.IDENTITY
    jti: str = Field(description="The access token's JWT ID (RFC 7519 §4.1.7).")
    exp: datetime = Field(description="The token's expiry: it need not be remembered after.")
    user_id: str | None = Field(None, description="Its subject; None for a client's own token.")
    client_id: str
    reason: str = Field(examples=["revoked", "code_reused", "refresh_token_reused"])


class UserCreated(EventData):
    event_type = "vigie.sso.user.created"
    topic = topics.IDENTITY
    user_id: str
    email: str
    display_name: str
    roles: list[str] = Field(default_factory=list, examples=[["learner"]])


class UserRectified(EventData):
    event_type = "vigie.sso.user.rectified"
    topic = topics.IDENTITY
    user_id: str
    fields: list[str] = Field(description="Names of the corrected attributes (GDPR Art. 16).")
    request_id: str | None = None


class UserErased(EventData):
    event_type = "vigie.sso.user.erased"
    topic = topics.IDENTITY
    user_id: str
    request_id: str | None = Field(None, description="The Art. 17 request that asked for it.")


class ClientRegistered(EventData):
    event_type = "vigie.sso.client.registered"
    topic = topics.IDENTITY
    client_id: str
    name: str
    training_platform: bool = Field(
        True, description="Suspensions block it; False for e.g. the payment or DPO pages."
    )


class SuspensionScheduled(EventData):
    event_type = "vigie.access.suspension.scheduled"
    topic = topics.ACCESS
    learner_id: str
    debt_id: str
    suspend_at: datetime = Field(description="End of the grace period after the reminder.")
    reason: str
    actor: Actor


class SuspensionCancelled(EventData):
    event_type = "vigie.access.suspension.cancelled"
    topic = topics.ACCESS
    learner_id: str
    debt_id: str
    reason: str
    actor: Actor


class AccessSuspended(EventData):
    event_type = "vigie.access.suspended"
    topic = topics.ACCESS
    learner_id: str
    debt_ids: list[str] = Field(default_factory=list, description="Empty for a manual suspension.")
    reason: str
    actor: Actor


class AccessRestored(EventData):
    event_type = "vigie.access.restored"
    topic = topics.ACCESS
    learner_id: str
    debt_ids: list[str] = Field(default_factory=list)
    reason: str
    actor: Actor


class DebtReminded(EventData):
    event_type = "vigie.billing.debt.reminded"
    topic = topics.BILLING
    debt_id: str
    learner_id: str
    channel: PaymentChannel
    amount: Decimal = Field(examples=["120.50"])
    currency: str = "EUR"
    reminded_at: datetime
    grace_days: int = Field(
        8, ge=0, description="Days before suspension, 8 by the office's policy."
    )


class DebtSettled(EventData):
    event_type = "vigie.billing.debt.settled"
    topic = topics.BILLING
    debt_id: str
    learner_id: str
    amount: Decimal
    settled_at: datetime


class DebtExempted(EventData):
    """The accounting office waives the suspension a debt would cause (a payment plan, a
    dispute): the debt stays unpaid but no longer suspends access."""

    event_type = "vigie.billing.debt.exempted"
    topic = topics.BILLING
    debt_id: str
    learner_id: str
    reason: str = Field(examples=["échéancier accordé", "contestation en cours"])
    exempted_at: datetime


class DpoRequestReceived(EventData):
    event_type = "vigie.dpo.request.received"
    topic = topics.DPO_REQUESTS
    request_id: str
    subject_id: str | None = Field(None, description="The learner's id when known.")
    request_type: RequestType
    received_on: date
    due_on: date


class DpoRequestVerified(EventData):
    event_type = "vigie.dpo.request.verified"
    topic = topics.DPO_REQUESTS
    request_id: str
    actor: Actor
    method: str = Field(examples=["sso", "document", "email_code"])


class DpoRequestExtended(EventData):
    event_type = "vigie.dpo.request.extended"
    topic = topics.DPO_REQUESTS
    request_id: str
    due_on: date
    reason: str
    actor: Actor


class DpoRequestCompleted(EventData):
    event_type = "vigie.dpo.request.completed"
    topic = topics.DPO_REQUESTS
    request_id: str
    actor: Actor


class DpoRequestRefused(EventData):
    event_type = "vigie.dpo.request.refused"
    topic = topics.DPO_REQUESTS
    request_id: str
    reason: str
    actor: Actor


class DpoRequestIdentityRequested(EventData):
    """The DPO asked the requester for information to verify their identity: the clock stops
    until it arrives (GDPR Art. 12(6); CNIL practice)."""

    event_type = "vigie.dpo.request.identity_requested"
    topic = topics.DPO_REQUESTS
    request_id: str
    what: str = Field(description="What was asked for.")
    actor: Actor


class DpoRequestIdentityReceived(EventData):
    event_type = "vigie.dpo.request.identity_received"
    topic = topics.DPO_REQUESTS
    request_id: str
    due_on: date | None = Field(None, description="The deadline once the clock restarts.")
    actor: Actor


class DpoRequestWithdrawn(EventData):
    event_type = "vigie.dpo.request.withdrawn"
    topic = topics.DPO_REQUESTS
    request_id: str
    reason: str = ""
    actor: Actor


class DpoRequestDueSoon(EventData):
    event_type = "vigie.dpo.request.due_soon"
    topic = topics.DPO_REQUESTS
    request_id: str
    due_on: date


class DpoRequestOverdue(EventData):
    event_type = "vigie.dpo.request.overdue"
    topic = topics.DPO_REQUESTS
    request_id: str
    due_on: date


class DpoTaskRequested(EventData):
    event_type = "vigie.dpo.task.requested"
    topic = topics.DPO_TASKS
    task_id: str
    request_id: str
    system: str = Field(examples=["sso_gateway", "moodle"])
    action: TaskAction
    subject_id: str
    corrections: dict[str, Any] | None = Field(None, description="For rectify (GDPR Art. 16).")


class DpoTaskCompleted(EventData):
    event_type = "vigie.dpo.task.completed"
    topic = topics.DPO_TASK_RESULTS
    task_id: str
    request_id: str
    system: str
    action: TaskAction
    data: dict[str, Any] | None = Field(None, description="Exported data, when small enough.")
    data_ref: str | None = Field(None, description="Where larger exported data can be fetched.")


class DpoTaskFailed(EventData):
    event_type = "vigie.dpo.task.failed"
    topic = topics.DPO_TASK_RESULTS
    task_id: str
    request_id: str
    system: str
    action: TaskAction
    error: str
    retryable: bool = False


class DataSystemAnnounced(EventData):
    """A data system says which DPO task actions it answers (docs/architecture.md: "A data system
    registers itself with dpo_requests"). Sent at each start; the latest announcement wins."""

    event_type = "vigie.dpo.system.announced"
    topic = topics.DPO_TASK_RESULTS
    system: str = Field(examples=["sso_gateway", "moodle"])
    actions: list[TaskAction]
    description: str = ""


class AccessDenied(EventData):
    """A caller was refused personal data or an action on it. Every such attempt is audited (GDPR
    Art. 32(1)(d) and 5(2): the controller can show who tried what). Emitted by whichever service
    refused; the subject (Kafka key) is the caller, or ``anonymous``."""

    event_type = "vigie.security.access.denied"
    topic = topics.IDENTITY
    service: str = Field(examples=["dpo_requests"])
    method: str = Field(examples=["GET"])
    path: str = Field(description="Path only: query strings may carry secrets.")
    status: int = Field(examples=[401, 403, 404])
    reason: str = Field(examples=["missing_token", "invalid_token", "missing_role", "not_owner"])
    user_id: str | None = Field(None, description="The caller's subject; None when unknown.")
    client_id: str | None = None
    ip: str | None = None


EVENT_TYPES: dict[str, type[EventData]] = {
    cls.event_type: cls
    for cls in (
        LoginSucceeded,
        LoginFailed,
        SessionRevoked,
        TokenRevoked,
        UserCreated,
        UserRectified,
        UserErased,
        ClientRegistered,
        SuspensionScheduled,
        SuspensionCancelled,
        AccessSuspended,
        AccessRestored,
        DebtReminded,
        DebtSettled,
        DebtExempted,
        DpoRequestReceived,
        DpoRequestVerified,
        DpoRequestExtended,
        DpoRequestCompleted,
        DpoRequestRefused,
        DpoRequestIdentityRequested,
        DpoRequestIdentityReceived,
        DpoRequestWithdrawn,
        DpoRequestDueSoon,
        DpoRequestOverdue,
        DpoTaskRequested,
        DpoTaskCompleted,
        DpoTaskFailed,
        DataSystemAnnounced,
        AccessDenied,
    )
}


SERVICE_SOURCES: dict[str, str] = {
    "sso_gateway": "/vigie/sso_gateway",
    "dpo_requests": "/vigie/dpo_requests",
    "audit_log": "/vigie/audit_log",
}

ALLOWED_SOURCES: dict[str, frozenset[str]] = {
    **{
        cls.event_type: frozenset({SERVICE_SOURCES["sso_gateway"]})
        for cls in EVENT_TYPES.values()
        if cls.topic in (topics.IDENTITY, topics.ACCESS) and cls is not AccessDenied
    },
    **{
        cls.event_type: frozenset({SERVICE_SOURCES["dpo_requests"]})
        for cls in EVENT_TYPES.values()
        if cls.topic in (topics.DPO_REQUESTS, topics.DPO_TASKS)
    },
    AccessDenied.event_type: frozenset(SERVICE_SOURCES.values()),
}
"""Who may emit each type (docs/architecture.md, "Events"). Events carry no signature:
``ce_source`` is what a consumer can check, and it catches a misrouted or misconfigured
producer (a platform announcing ``vigie.access.restored``), not a determined forger, which
only per-topic producer ACLs on the broker stop. Types absent here and from
``ALLOWED_SOURCE_PREFIXES`` come from any data system (task results) and may have any source."""

ACCOUNTING_SOURCE_PREFIX = "/accounting"

ALLOWED_SOURCE_PREFIXES: dict[str, str] = {
    cls.event_type: ACCOUNTING_SOURCE_PREFIX
    for cls in EVENT_TYPES.values()
    if cls.topic == topics.BILLING
}
"""Types from outside Vigie whose producer names itself under a known prefix: billing events
come only from the accounting system (``/accounting/<instance>``), since they suspend and
restore learners' access."""


def source_allowed(event_type: str, source: str) -> bool:
    prefix = ALLOWED_SOURCE_PREFIXES.get(event_type)
    if prefix is not None:
        return source == prefix or source.startswith(prefix + "/")
    allowed = ALLOWED_SOURCES.get(event_type)
    return allowed is None or source in allowed
