"""Mail transport settings (``VIGIE_SMTP_*``; environment read here only).

Without ``VIGIE_SMTP_HOST`` messages are queued and only logged (recipient and subject): fine
on a developer's machine, a misconfiguration anywhere else, where people would never get the
codes, acknowledgements and download links the GDPR makes us send (Art. 12(1), 12(3)).
"""

from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MailMisconfigured(ValueError):
    pass


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIE_SMTP_", extra="ignore")

    host: str | None = Field(
        None, description="SMTP server (submission); unset: messages are only logged (dev)."
    )
    port: int | None = Field(
        None, ge=1, le=65535, description="Default 587 (STARTTLS), 465 (TLS) or 25 (none)."
    )
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="STARTTLS (RFC 3207), implicit TLS (RFC 8314 §3.3) or none (local relay).",
    )
    ca_file: Path | None = Field(
        None, description="CA bundle the server's certificate is checked against (default: system)."
    )
    username: str | None = Field(None, description="SMTP AUTH user (RFC 4954), if any.")
    password: SecretStr | None = None
    from_address: str = Field(
        "Délégué à la protection des données <dpo@localhost>",
        description="From header and envelope sender.",
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Per SMTP exchange.")
    poll_seconds: float = Field(5.0, gt=0, description="How often the queue is read.")
    batch_size: int = Field(20, ge=1, description="Messages claimed per round.")
    lease_seconds: float = Field(
        300.0, gt=0, description="A claim older than this is taken over (its sender died)."
    )
    max_attempts: int = Field(10, ge=1, description="Tries before a message is given up.")
    backoff_seconds: float = Field(30.0, gt=0, description="Wait after the first failure.")
    backoff_max_seconds: float = Field(6 * 3600.0, gt=0, description="Longest wait.")

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        _, address = parseaddr(value)
        local, at, domain = address.partition("@")
        if not (at and local and domain):
            raise ValueError("VIGIE_SMTP_FROM_ADDRESS must be an e-mail address")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("VIGIE_SMTP_USERNAME and VIGIE_SMTP_PASSWORD go together")
        return self

    @property
    def sender(self) -> Address:
        name, address = parseaddr(self.from_address)
        local, _, domain = address.partition("@")
        return Address(display_name=name, username=local, domain=domain)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"starttls": 587, "tls": 465, "none": 25}[self.security]

    def check(self, env: str) -> SmtpSettings:
        """Refuse to run outside development without a mail server (see the module doc)."""
        if self.host is None and env != "development":
            raise MailMisconfigured(
                "VIGIE_SMTP_HOST must be set outside development: requesters must receive"
                " their codes, notices and download links"
            )
        if self.host is not None and self.security == "none" and self.username is not None:
            raise MailMisconfigured("SMTP credentials are never sent without TLS")
        return self


@lru_cache
def get_smtp_settings() -> SmtpSettings:
    return SmtpSettings()
