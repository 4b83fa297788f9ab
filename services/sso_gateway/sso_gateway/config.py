"""sso_gateway settings (environment read here only)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from vigie_shared.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = 8000
    issuer: str = Field(
        "http://127.0.0.1:8000", description="OIDC issuer identifier (OIDC Discovery 1.0 §3)."
    )
    access_token_ttl: int = Field(900, ge=30, description="Access and ID token lifetime (s).")
    refresh_token_ttl: int = Field(30 * 24 * 3600, ge=60, description="Refresh token lifetime.")
    code_ttl: int = Field(60, ge=5, description="Authorization code lifetime (RFC 6749 §4.1.2).")
    session_ttl: int = Field(12 * 3600, ge=60, description="Browser session lifetime (s).")
    key_publish_delay: int = Field(
        600,
        ge=0,
        description="Seconds a rotated-in key is published in the JWKS before it signs, so "
        "that relying parties' key caches pick it up first.",
    )
    demo_pages_url: str = Field(
        "http://127.0.0.1:8001",
        description="Where the DPO pages of vigie up --demo listen: their demo client "
        "redirects there.",
    )
    login_max_failures_per_account: int = Field(5, ge=1)
    login_max_failures_per_ip: int = Field(30, ge=1)
    login_throttle_window: int = Field(900, ge=10, description="Seconds failures are counted.")
    login_max_failures_per_account_any_ip: int = Field(
        20,
        ge=1,
        description="Failures on one account from every browser it does not recognise, before "
        "those browsers are slowed down (a guessing attack spread over many addresses).",
    )
    login_throttle_base_delay: float = Field(
        30.0,
        gt=0,
        description="Seconds to wait once a limit is reached; each further failure doubles it, "
        "up to the window.",
    )
    login_device_days: int = Field(
        180,
        ge=1,
        description="How long a browser that logged in to an account is recognised for it: its "
        "attempts have a budget of their own, which others' failures cannot use up.",
    )
    oauth_threads: int = Field(
        32,
        ge=1,
        description="Worker threads running Authlib's synchronous server (each waits on the "
        "database through the event loop, so this bounds grants in flight, not CPU).",
    )
    client_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long a replica keeps a registered client it has read for the token "
        "endpoint (0: read it at every request).",
    )
    backchannel_max_attempts: int = Field(8, ge=1)
    backchannel_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a platform has to answer a back-channel logout POST."
    )
    backchannel_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a claimed back-channel logout stays with the replica that claimed "
        "it; after that (the replica died mid-send) any replica may send it again. Longer than "
        "the POST timeout, so a live replica always records its result first.",
    )
    backchannel_concurrency: int = Field(
        20, ge=1, description="Back-channel logout POSTs in flight per replica."
    )
    grace_sweep_seconds: float = Field(
        30.0,
        ge=0,
        description="How often learners past their grace period are suspended; 0 disables it.",
    )
    backchannel_poll_seconds: float = Field(
        1.0, ge=0, description="How often due back-channel logouts are sent; 0 disables the worker."
    )

    # A pass is one statement on the partial index of undelivered SETs: four a second cost
    # little, and keep a push within a second of the change it reports.
    signals_push_seconds: float = Field(
        0.25, ge=0, description="How often due Shared Signals pushes are sent; 0: never."
    )
    signals_push_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a receiver has to answer a SET push (RFC 8935)."
    )
    signals_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a claimed SET push stays with the replica that claimed it; after "
        "that any replica may push it again. Longer than the push timeout.",
    )
    signals_max_attempts: int = Field(
        10, ge=1, description="Pushes of one SET before it is given up on (and shown failed)."
    )
    signals_retry_cap_seconds: float = Field(
        600.0, gt=0, description="Longest wait between two pushes of one SET."
    )
    signals_push_concurrency: int = Field(20, ge=1, description="SET pushes per pass.")
    signals_paused_max_events: int = Field(
        1000,
        ge=1,
        description="SETs a paused stream holds; past that the oldest are dropped (counted).",
    )
    signals_poll_max_wait_seconds: float = Field(
        15.0,
        ge=0,
        description="Longest a poll request without returnImmediately waits for a SET "
        "(RFC 8936 §2.4 long polling).",
    )
    signals_poll_default_events: int = Field(
        100, ge=1, le=1000, description="SETs a poll returns when it sets no maxEvents."
    )
    signals_max_streams_per_receiver: int = Field(5, ge=1)
    signals_min_verification_seconds: int = Field(
        10,
        ge=0,
        description="A stream's min_verification_interval (SSF 1.0 §8.1.1): a receiver asking "
        "for verification events more often is answered 429.",
    )
    signals_housekeeping_seconds: float = Field(
        15.0,
        ge=0,
        description="How often the streams' delivery figures are refreshed for /metrics and "
        "delivered SETs past their retention deleted; 0: never.",
    )
    signals_retention_hours: float = Field(
        72.0, gt=0, description="How long a delivered or failed SET is kept for inspection."
    )
    session_expiry_sweep_seconds: float = Field(
        30.0,
        ge=0,
        description="How often sessions past their absolute or idle end are ended (back-channel "
        "logout, Shared Signals SETs, events); 0: never.",
    )
    session_idle_ttl: int = Field(
        2 * 3600,
        ge=60,
        description="A browser session unused this long ends (s), before session_ttl; its "
        "platforms are told by back-channel logout like any other session end.",
    )
    require_pushed_authorization_requests: bool = Field(
        False,
        description="Every client must push its authorization requests first (RFC 9126 §6); "
        "False: only the clients registered so (and FAPI clients).",
    )
    par_request_uri_ttl: int = Field(
        60,
        ge=5,
        le=600,
        description="Lifetime of a pushed request's request_uri (RFC 9126 §2.2), used once.",
    )
    dpop_proof_max_age_seconds: int = Field(
        300,
        ge=5,
        description="How old a DPoP proof's iat may be, and how far ahead (RFC 9449 §11.1); "
        "its jti is remembered this long against replay.",
    )
    dpop_require_nonce: bool = Field(
        False,
        description="Require a server nonce in DPoP proofs at the token endpoint (RFC 9449 §8).",
    )

    @model_validator(mode="after")
    def _lease_outlives_a_post(self) -> Settings:
        if self.backchannel_lease_seconds <= self.backchannel_timeout_seconds:
            raise ValueError("backchannel_lease_seconds must exceed backchannel_timeout_seconds")
        if self.signals_lease_seconds <= self.signals_push_timeout_seconds:
            raise ValueError("signals_lease_seconds must exceed signals_push_timeout_seconds")
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.env != "development"


@lru_cache
def get_settings() -> Settings:
    return Settings()


SOURCE = "/vigie/sso_gateway"
"""CloudEvents ``source`` of every event this service emits."""
