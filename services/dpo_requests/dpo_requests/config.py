"""dpo_requests settings (environment read here only)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from vigie_shared.kit.settings import ServiceSettings

SOURCE = "/vigie/dpo_requests"
"""CloudEvents ``source`` of every event this service emits."""


class Settings(ServiceSettings):
    http_port: int = 8001
    issuer: str = Field(
        "http://127.0.0.1:8000", description="OIDC issuer whose access tokens the API accepts."
    )
    audience: str = Field("dpo-requests", description="Audience the access tokens must name.")
    public_url: str = Field(
        "http://127.0.0.1:8001", description="Base URL of this service in links sent to people."
    )
    task_timeout_seconds: float = Field(
        3 * 24 * 3600, gt=0, description="Wait for a data system's answer before retrying."
    )
    task_max_attempts: int = Field(
        3, ge=1, description="Requests sent to a data system before the task becomes manual."
    )
    scheduler_interval_seconds: float = Field(
        30.0, gt=0, description="How often task timeouts and deadline reminders are checked."
    )
    package_link_days: int = Field(
        7, ge=1, description="How long the signed download link of a data package is valid."
    )
    email_code_minutes: int = Field(15, ge=1, description="Validity of an e-mailed code.")
    email_code_max_attempts: int = Field(5, ge=1, description="Wrong codes before it is void.")
    email_submissions_per_hour: int = Field(
        5, ge=1, description="Submissions without an account per mailbox and hour."
    )
    email_submissions_per_client_per_hour: int = Field(
        30,
        ge=1,
        description="Submissions without an account from one client address per hour, "
        "whatever the mailboxes.",
    )
    oidc_client_id: str = Field(
        "dpo-pages", description="The pages' confidential OIDC client at the issuer."
    )
    oidc_client_secret: str | None = Field(
        None, description="Its secret; without it the pages cannot log anyone in."
    )
    session_hours: float = Field(
        8.0, gt=0, le=24, description="How long a login to the pages lasts at most."
    )
    session_idle_minutes: float = Field(
        30.0,
        gt=0,
        description="A login to the pages unused this long ends (OWASP Session Management "
        "Cheat Sheet, idle timeout).",
    )

    @property
    def secure_cookies(self) -> bool:
        # Cookies travel over plain HTTP only on a developer's machine (127.0.0.1).
        return self.env != "development"


@lru_cache
def get_settings() -> Settings:
    return Settings()
