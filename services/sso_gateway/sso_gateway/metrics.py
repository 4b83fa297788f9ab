"""The gateway's own Prometheus series (on the default registry, exposed on ``/metrics``).

Token issuance is counted here rather than published as one event per token:
grants run at hundreds per second and carry no fact the audit log needs. Label values are
bounded: ``grant_type`` is one of the three grants, ``client`` a registered client id (a few
dozen platforms), and ``reason`` one of three fixed values.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

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
