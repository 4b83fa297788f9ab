"""Settings common to every service: read from ``VIGIE_*`` environment variables only here."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "vigie-development-secret-do-not-use-in-production"  # noqa: S105
SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
"""The random secret ``vigie up`` generates in a data dir on its first run."""


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "vigie"


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """The data dir of ``vigie up`` and of every command that looks for it: ``--data-dir``, else
    ``VIGIE_DATA_DIR``, else the default; absolute, so that the stack file names one place."""
    chosen = Path(explicit) if explicit else ServiceSettings().data_dir
    return chosen.expanduser().resolve()


def data_dir_secret(data_dir: Path) -> str | None:
    """The secret generated for ``data_dir``, if it has one."""
    with contextlib.suppress(FileNotFoundError):
        return (data_dir / SECRET_FILE).read_text().strip() or None
    return None


def create_data_dir_secret(data_dir: Path) -> str:
    """Give ``data_dir`` a random secret, once: written owner-only to a temporary file, then
    linked into place (``link`` fails if the name exists), so that two first runs racing agree
    and no reader sees a half-written file."""
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, data_dir / SECRET_FILE)
    finally:
        os.unlink(temporary)
    secret = data_dir_secret(data_dir)
    assert secret is not None
    return secret


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIE_", extra="ignore")

    env: Literal["development", "production"] = "development"
    # repr=False: settings end up in log lines and tracebacks; a DSN may hold a password.
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        description="PostgreSQL DSN; each service keeps its tables in its own schema.",
        repr=False,
    )
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_username: str | None = Field(
        None,
        description="SCRAM-SHA-512 user of this service on a broker that authenticates clients "
        "(kit/kafka_acls.py); unset: plaintext, no authentication.",
    )
    kafka_password: str | None = Field(None, description="That user's password.", repr=False)
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    secret_key: str = Field(
        DEV_SECRET,
        description="Key for keyed hashes and encryption at rest; random in production.",
        repr=False,
    )
    log_level: str = "INFO"
    log_json: bool | None = Field(
        None, description="JSON log lines with trace ids; default: on outside development."
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    kafka_partitions: int = Field(
        3, ge=1, description="Partitions for topics this service creates."
    )
    kafka_replication: int = Field(1, ge=1, description="Replication factor for created topics.")
    outbox_retention_hours: int = Field(
        24 * 7,
        ge=1,
        description="How long relayed outbox rows are kept so a broker that lost its log can be "
        "refilled (docs/architecture.md, Delivery).",
    )
    consumer_max_attempts: int = Field(5, ge=1, description="Tries before a message goes to DLQ.")
    kafka_session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        le=300_000,
        description="Consumer-group session timeout: how long the partitions of a consumer that "
        "died stay unread before the group moves them. The embedded Tansu broker also holds each "
        "group join for half of it (Apache Kafka answers a join at once).",
    )
    kafka_group_join_timeout_seconds: float = Field(
        120,
        gt=0,
        description="How long a service's start waits for its consumer groups to form before it "
        "fails naming them (a member of the group that stopped answering without leaving holds "
        "every join until its session expires).",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted (413 beyond it)."
    )
    max_json_depth: int = Field(
        32, ge=2, description="Deepest nesting of a JSON request body (400 beyond it)."
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's headers (slow clients, "
        "'slowloris'); the connection is closed after it.",
    )
    max_header_bytes: int = Field(
        32 * 1024,
        ge=1024,
        description="Largest request line plus headers, in bytes (431 beyond it).",
    )
    body_timeout: float = Field(
        30.0, gt=0, description="Seconds the body may pause before the request gets 408."
    )
    keep_alive_timeout: int = Field(5, ge=1, description="Idle keep-alive connection lifetime.")
    max_concurrency: int | None = Field(
        1000,
        ge=1,
        description="Connections and requests in flight before new requests get 503.",
    )
    api_docs: bool | None = Field(
        None,
        description="Serve the OpenAPI document and Swagger UI (/openapi.json, /docs); by "
        "default on in development only.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses (or CIDR ranges) of the reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed; from anyone else they are ignored, so a client "
        "cannot choose the address that login throttling counts.",
    )

    @model_validator(mode="after")
    def _data_dir_secret(self) -> ServiceSettings:
        # A process told its data dir (vigie up's services, the commands beside it) takes the
        # secret vigie up generated there, unless VIGIE_SECRET_KEY names one: the public
        # development constant then protects nothing of that stack (cookies, stored keys).
        if "secret_key" not in self.model_fields_set and "data_dir" in self.model_fields_set:
            generated = data_dir_secret(self.data_dir.expanduser())
            if generated is not None:
                self.secret_key = generated
        return self

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> ServiceSettings:
        # A shipped default secret would let anyone forge what it protects: only dev may use it.
        if self.env != "development" and (
            self.secret_key == DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError("VIGIE_SECRET_KEY must be set to a random value of 32+ characters")
        return self
