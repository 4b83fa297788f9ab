"""The payment portal's settings (environment read here only)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vigie_shared.kit.settings import ServiceSettings

DEMO_PAYMENT_CLIENT = "paiement"
"""The portal's OIDC client at the gateway (registered by ``sso_gateway.demo``)."""
DEFAULT_PORT = 8003
SOURCE = "/accounting/demo-payment"
"""CloudEvents ``source`` of the settlements it publishes: billing facts come only from the
accounting system (events.ALLOWED_SOURCE_PREFIXES)."""
CALLBACK_PATH = "/auth/callback"


class PaymentSettings(ServiceSettings):
    http_port: int = DEFAULT_PORT
    issuer: str = Field("http://127.0.0.1:8000", description="The gateway, where people log in.")
    public_url: str = Field(
        f"http://127.0.0.1:{DEFAULT_PORT}", description="Where the portal listens, for links."
    )
    oidc_client_id: str = Field(DEMO_PAYMENT_CLIENT, description="Its OIDC client id.")
    oidc_client_secret: str | None = Field(
        None, description="Its secret; without it the portal cannot log anyone in.", repr=False
    )
    session_minutes: int = Field(
        30, ge=1, le=240, description="How long a login to the portal lasts at most."
    )
    publish_timeout: float = Field(
        15.0, gt=0, description="Seconds to wait for the broker to acknowledge a payment."
    )

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + CALLBACK_PATH


class PortalLocation(BaseSettings):
    """Where ``vigie up --demo`` runs the portal, for the gateway's demo seed to register its
    client there (``VIGIE_DEMO_PAYMENT_URL``)."""

    model_config = SettingsConfigDict(env_prefix="VIGIE_", extra="ignore")

    demo_payment_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"


def payment_client_uris(portal_url: str) -> tuple[str, str]:
    """Its redirect URI and its home page (RFC 7591 §2 ``client_uri``) at ``portal_url``."""
    base = portal_url.rstrip("/")
    return base + CALLBACK_PATH, base + "/"
