"""The Shared Signals API's bodies (SSF 1.0 §7, §8; RFC 8936 §2). Field names are the
specifications', hence the camelCase of the poll request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sso_gateway.signals.sets import POLL, PUSH

EventUri = Annotated[str, Field(min_length=1, max_length=200)]
SubjectFormat = Literal["iss_sub", "email", "opaque"]


class Delivery(BaseModel):
    """SSF §8.1.1: push (RFC 8935) to the receiver's ``endpoint_url``, or poll (RFC 8936) at
    the ``endpoint_url`` the transmitter supplies."""

    model_config = ConfigDict(extra="ignore")

    method: Literal["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"] = Field(examples=[PUSH, POLL])
    endpoint_url: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://[^\s]+$",
        description="Push: where SETs are POSTed. Poll: supplied by the transmitter.",
    )
    authorization_header: str | None = Field(
        None,
        max_length=4000,
        description="Push: the Authorization header to send with each SET (write-only).",
    )


class StreamCreate(BaseModel):
    """The receiver-supplied properties of a stream (SSF §8.1.1); the transmitter-supplied
    ones (``iss``, ``aud``, ``events_supported``, ``events_delivered``...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    events_requested: list[EventUri] = Field(default_factory=list, max_length=50)
    delivery: Delivery = Field(default_factory=lambda: Delivery(method=POLL))
    description: str | None = Field(None, max_length=500)
    format: SubjectFormat = Field(
        "iss_sub",
        description="How SETs of this stream identify the account (SSF §3; an extension of "
        "this transmitter): iss_sub (issuer and sub, the default), email or opaque.",
    )


class StreamReplace(StreamCreate):
    stream_id: str = Field(max_length=100)


class StreamUpdate(BaseModel):
    """SSF §8.1.1.3: only the properties present change."""

    model_config = ConfigDict(extra="ignore")

    stream_id: str = Field(max_length=100)
    events_requested: list[EventUri] | None = Field(None, max_length=50)
    delivery: Delivery | None = None
    description: str | None = Field(None, max_length=500)
    format: SubjectFormat | None = None


class DeliveryPublic(BaseModel):
    method: str
    endpoint_url: str | None


class StreamConfiguration(BaseModel):
    """A stream as the transmitter describes it (SSF §8.1.1)."""

    stream_id: str
    iss: str
    aud: str
    jwks_uri: str
    events_supported: list[str]
    events_requested: list[str]
    events_delivered: list[str]
    delivery: DeliveryPublic
    description: str | None = None
    format: SubjectFormat
    min_verification_interval: int | None = None
    """SSF §8.1.1: the fewest seconds between two verification requests of a receiver."""


StreamStatusValue = Literal["enabled", "paused", "disabled"]


class StreamStatus(BaseModel):
    """SSF §8.1.2: enabled (delivered), paused (held, then delivered), disabled (dropped)."""

    stream_id: str = Field(max_length=100)
    status: StreamStatusValue
    reason: str | None = Field(None, max_length=500)


class EmailSubject(BaseModel):
    format: Literal["email"]
    email: str = Field(max_length=320)


class IssSubSubject(BaseModel):
    format: Literal["iss_sub"]
    iss: str = Field(max_length=2000)
    sub: str = Field(max_length=200)


class OpaqueSubject(BaseModel):
    format: Literal["opaque"]
    id: str = Field(max_length=200)


SubjectIdentifier = Annotated[
    EmailSubject | IssSubSubject | OpaqueSubject, Field(discriminator="format")
]


class SubjectChange(BaseModel):
    """SSF §8.1.3.2 and §8.1.3.3."""

    stream_id: str = Field(max_length=100)
    subject: SubjectIdentifier
    verified: bool | None = None


class VerificationRequest(BaseModel):
    """SSF §8.1.4.2: ``state`` comes back in the verification SET."""

    stream_id: str = Field(max_length=100)
    state: str | None = Field(None, max_length=500)


class SetError(BaseModel):
    err: str = Field(max_length=100)
    description: str = Field("", max_length=1000)


class PollRequest(BaseModel):
    """RFC 8936 §2.4."""

    model_config = ConfigDict(populate_by_name=True)

    max_events: int | None = Field(None, alias="maxEvents", ge=0, le=1000)
    return_immediately: bool = Field(False, alias="returnImmediately")
    ack: list[str] = Field(default_factory=list, max_length=1000)
    set_errs: dict[str, SetError] = Field(default_factory=dict, alias="setErrs", max_length=1000)


class PollResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sets: dict[str, str]
    more_available: bool = Field(alias="moreAvailable")


def transmitter_metadata(issuer: str) -> dict[str, Any]:
    """SSF §7.1."""
    return {
        "spec_version": "1_0",
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks",
        "delivery_methods_supported": [PUSH, POLL],
        "configuration_endpoint": f"{issuer}/ssf/stream",
        "status_endpoint": f"{issuer}/ssf/status",
        "add_subject_endpoint": f"{issuer}/ssf/subjects:add",
        "remove_subject_endpoint": f"{issuer}/ssf/subjects:remove",
        "verification_endpoint": f"{issuer}/ssf/verify",
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
    }
