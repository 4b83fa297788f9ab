"""The gateway's own Prometheus series (on the default registry, exposed on ``/metrics``).

Token issuance is counted here rather than published as one event per token:
grants run at hundreds per second and carry no fact the audit log needs. Label values are
bounded: ``grant_type`` is one of the three grants, ``client`` a registered client id (a few
dozen platforms), ``reason`` one of three fixed values, and ``stream`` one of a receiver's few
Shared Signals streams (``signals_max_streams_per_receiver``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from prometheus_client import Counter, Gauge

from sso_gateway.signals.records import DeliveryState

TOKENS_ISSUED = Counter(
    "vigie_sso_tokens_issued_total",
    "Access tokens issued and stored, by grant type and client.",
    ["grant_type", "client"],
)
LOGINS_FAILED = Counter(
    "vigie_sso_logins_failed_total",
    "Login form submissions refused, by reason.",
    ["reason"],
)

# A bad password and an unknown account share ``invalid_credentials``: a finer label would let
# whoever reads the metrics tell them apart, which the login page itself never does.
LoginFailure = Literal["invalid_credentials", "throttled", "csrf"]


def token_issued(grant_type: str, client_id: str) -> None:
    TOKENS_ISSUED.labels(grant_type, client_id).inc()


def login_failed(reason: LoginFailure) -> None:
    LOGINS_FAILED.labels(reason).inc()


SIGNALS_SETS = Gauge(
    "vigie_sso_signals_sets",
    "Security Event Tokens of each Shared Signals stream, by state (pending, delivered, "
    "failed, dropped), as the database held them at the last refresh.",
    ["client", "stream", "state"],
)
SIGNALS_PUSHES = Counter(
    "vigie_sso_signals_pushes_total",
    "SET pushes (RFC 8935) by this replica, by outcome (delivered, failed).",
    ["client", "outcome"],
)


def signals_delivery(states: Iterable[DeliveryState]) -> None:
    """Replace the streams' figures (a deleted stream's series go)."""
    SIGNALS_SETS.clear()
    for state in states:
        for name in ("pending", "delivered", "failed", "dropped"):
            SIGNALS_SETS.labels(state.client_id, state.stream_id, name).set(getattr(state, name))


def signal_pushed(client_id: str, delivered: bool) -> None:
    SIGNALS_PUSHES.labels(client_id, "delivered" if delivered else "failed").inc()
