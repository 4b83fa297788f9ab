"""Which stack a command talks to: ``vigie up`` publishes what it started in a file under its data
dir, and every administration command reads it back, so that ``vigie user add`` beside a running
``make run`` writes into that stack's embedded database rather than into whatever the settings'
defaults point at.

The file is owner-only (it names the database, whose embedded server trusts local connections),
written atomically (a reader never sees half of it) and removed on a clean stop. One left behind
by a killed ``vigie up`` is recognised by its dead pid and ignored.

Precedence, value by value: a command-line flag, then a ``VIGIE_*`` variable that is set (an
explicit choice, which ``vigie up`` honours too), then the running stack, then the settings'
defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigie_shared.kit.embedded import port_open
from vigie_shared.kit.settings import ServiceSettings, resolve_data_dir

FILE_NAME = "stack.json"

Command = Callable[[argparse.Namespace], int]


class RunningStack(BaseModel):
    """What one ``vigie up`` started and where."""

    model_config = ConfigDict(frozen=True)

    pid: int
    data_dir: Path
    database_url: str = Field(repr=False)
    kafka_bootstrap: str
    broker: str = Field(description="tansu, kafka, or external (VIGIE_KAFKA_BOOTSTRAP)")
    issuer: str | None = None
    services: dict[str, str] = Field(default_factory=dict, description="name -> base URL")


def stack_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def publish(stack: RunningStack) -> Path:
    """Write the file atomically with mode 0600: a temporary file in the same directory
    (``mkstemp`` creates it owner-only), flushed to disk, then renamed over the old one."""
    path = stack_file(stack.data_dir)
    fd, temporary = tempfile.mkstemp(dir=stack.data_dir, prefix=".stack-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(stack.model_dump_json(indent=2))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def withdraw(data_dir: Path, pid: int) -> None:
    """Remove the file if it is this process's (never a newer stack's)."""
    stack = _read(stack_file(data_dir))
    if stack is not None and stack.pid == pid:
        stack_file(data_dir).unlink(missing_ok=True)


def _read(path: Path) -> RunningStack | None:
    try:
        return RunningStack.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def _is_vigie(pid: int) -> bool:
    """Whether ``pid`` is alive and still a ``vigie`` process (pids are reused: a dead stack's
    pid may now belong to anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True
    with contextlib.suppress(OSError):
        return b"vigie" in cmdline.read_bytes()
    return False


def find_running(data_dir: Path) -> RunningStack | None:
    """The stack running on ``data_dir``, or None (no file, unreadable, or its pid is dead)."""
    stack = _read(stack_file(data_dir))
    if stack is None or not _is_vigie(stack.pid):
        return None
    return stack


def where(dsn: str) -> str:
    """A DSN without its password, for messages."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{user}{host}{port}{parts.path}"


@dataclass(frozen=True)
class Target:
    """The database and broker a command uses, and why those."""

    data_dir: Path
    database_url: str
    kafka_bootstrap: str
    stack: RunningStack | None
    sources: dict[str, str]

    @property
    def origin(self) -> str:
        if self.stack is not None:
            return f"vigie up (pid {self.stack.pid}) on {self.data_dir}"
        return f"no vigie up running on {self.data_dir}"

    def describe(self) -> str:
        broker = "broker" if self.stack is None else f"broker ({self.stack.broker})"
        return (
            f"Stack: {self.origin}; database {where(self.database_url)}"
            f" ({self.sources['database_url']}), {broker} {self.kafka_bootstrap}"
            f" ({self.sources['kafka_bootstrap']})"
        )

    def environment(self) -> dict[str, str]:
        """The ``VIGIE_*`` values every setting built under this target must see."""
        env = {
            "VIGIE_DATA_DIR": str(self.data_dir),
            "VIGIE_DATABASE_URL": self.database_url,
            "VIGIE_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
        }
        if self.stack is not None and self.stack.issuer is not None:
            # Back-channel logout tokens a command sends (a suspension signs the learner out)
            # must name the issuer the platforms know.
            env.setdefault("VIGIE_ISSUER", self.stack.issuer)
        return env


def resolve(
    *,
    data_dir: str | Path | None = None,
    database_url: str | None = None,
    kafka_bootstrap: str | None = None,
) -> Target:
    """The one rule every command follows to find the stack it administers."""
    directory = resolve_data_dir(data_dir)
    stack = find_running(directory)
    settings = ServiceSettings()
    chosen: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, flag in (("database_url", database_url), ("kafka_bootstrap", kafka_bootstrap)):
        configured = name in settings.model_fields_set
        if flag:
            chosen[name], sources[name] = flag, f"--{name.replace('_', '-')}"
        elif configured or stack is None:
            chosen[name] = getattr(settings, name)
            sources[name] = f"VIGIE_{name.upper()}" if configured else "default"
        else:
            chosen[name], sources[name] = getattr(stack, name), "vigie up"
    return Target(directory, chosen["database_url"], chosen["kafka_bootstrap"], stack, sources)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the command's duration: the settings classes (the only
    readers of ``VIGIE_*``) then agree with the target, down to commands this module does not
    know; restored after, so an in-process caller (a test) keeps its own environment."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _database_problem(dsn: str) -> str | None:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as error:
        return " ".join((str(error) or type(error).__name__).split())
    await conn.close()
    return None


def _broker_reachable(bootstrap: str) -> bool:
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        if port.isdigit() and port_open(host.strip("[]") or "127.0.0.1", int(port)):
            return True
    return False


def add_stack_arguments(
    parser: argparse.ArgumentParser, *, database: bool = True, broker: bool = False
) -> None:
    """The flags every administration command takes to name its stack."""
    parser.add_argument(
        "--data-dir",
        help="data dir of the vigie up to administer (default: VIGIE_DATA_DIR, else"
        " ~/.local/share/vigie)",
    )
    if database:
        parser.add_argument(
            "--database-url",
            help="PostgreSQL DSN (default: VIGIE_DATABASE_URL if set, else the running vigie up's)",
        )
    if broker:
        parser.add_argument(
            "--kafka-bootstrap",
            help="Kafka bootstrap servers (default: VIGIE_KAFKA_BOOTSTRAP if set, else the"
            " running vigie up's)",
        )


def stack_command(*, database: bool = True, broker: bool = False) -> Callable[[Command], Command]:
    """Run a command against the resolved stack: refuse in one line when the database or
    broker it needs is unreachable, else say which stack on stderr (stdout stays the command's,
    ``--json`` included) and run it with the settings pointing there."""

    def wrap(command: Command) -> Command:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                target = resolve(
                    data_dir=getattr(args, "data_dir", None),
                    database_url=getattr(args, "database_url", None),
                    kafka_bootstrap=getattr(args, "kafka_bootstrap", None),
                )
            except ValidationError as error:
                print(f"error: {error.errors()[0]['msg']}", file=sys.stderr)
                return 1
            if database and (problem := asyncio.run(_database_problem(target.database_url))):
                print(
                    f"error: cannot reach the database {where(target.database_url)}"
                    f" ({target.sources['database_url']}; {target.origin}): {problem}",
                    file=sys.stderr,
                )
                return 1
            if broker and not _broker_reachable(target.kafka_bootstrap):
                print(
                    f"error: cannot reach the broker {target.kafka_bootstrap}"
                    f" ({target.sources['kafka_bootstrap']}; {target.origin})",
                    file=sys.stderr,
                )
                return 1
            print(target.describe(), file=sys.stderr, flush=True)
            with _environment(target.environment()):
                return command(args)

        return run

    return wrap
