"""The administration commands beside a running ``vigie up``: they find its stack file under the
data dir (``--data-dir`` or ``VIGIE_DATA_DIR``, as ``vigie up`` does) and talk to its embedded
database with no DSN given; what they create works at once (a login with the new platform and
account); an unreachable database is one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.vigie_up import CALLBACK, Up, clean_env, log_in, vigie
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.stack_file import RunningStack, find_running, publish, stack_file

PASSWORD = "a long enough password"


@pytest.mark.broker
def test_client_and_user_added_beside_vigie_up_with_no_dsn_log_in_through_the_gateway(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with Up(data_dir) as up:
        up.wait_up()
        assert stack_file(data_dir).stat().st_mode & 0o777 == 0o600
        added = vigie(
            *("client", "add", "--name", "Plateforme neuve", "--client-id", "plateforme-neuve"),
            *("--redirect-uri", CALLBACK, "--json", "--data-dir", str(data_dir)),
            env=clean_env(),
        )
        assert added.returncode == 0, added.stderr
        assert f"Stack: vigie up (pid {up.proc.pid}) on {data_dir}" in added.stderr
        secret = json.loads(added.stdout)["client_secret"]
        # The other rule for the data dir: the environment variable.
        with_env = clean_env(VIGIE_DATA_DIR=str(data_dir))
        created = vigie(
            *("user", "add", "--username", "nadia.roux", "--email", "nadia.roux@example.org"),
            "--password-stdin",
            env=with_env,
            stdin=f"{PASSWORD}\n",
        )
        assert created.returncode == 0, created.stderr
        shown = vigie("user", "show", "nadia.roux@example.org", "--json", env=with_env)
        assert shown.returncode == 0, shown.stderr
        account = json.loads(shown.stdout)
        assert account["suspended"] is False
        assert f"created {account['id']} (nadia.roux@example.org)" in created.stdout
        info = asyncio.run(
            log_in(
                up.url("sso_gateway"),
                client_id="plateforme-neuve",
                client_secret=secret,
                identifier="nadia.roux",
                password=PASSWORD,
            )
        )
        assert info["sub"] == account["id"]
        assert info["email"] == "nadia.roux@example.org"
        assert up.interrupt() == 0, up.output
    assert not stack_file(data_dir).exists()


ADMIN_COMMANDS = [
    ["migrate"],
    ["user", "add", "--username", "u1", "--email", "u1@example.org", "--password-stdin"],
    ["user", "show", "u1@example.org"],
    ["client", "add", "--name", "Plateforme"],
    ["access", "suspend", "--learner", "u-1", "--reason", "impayé", "--actor", "u-2"],
    ["access", "restore", "--learner", "u-1", "--reason", "payé", "--actor", "u-2"],
    ["keys", "rotate"],
    ["audit", "verify"],
    ["audit", "checkpoint"],
    ["audit", "prove", "0"],
]


@pytest.mark.parametrize("argv", ADMIN_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_an_unreachable_database_is_one_line_and_a_failure_for_every_admin_command(
    tmp_path: Path, argv: list[str]
) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    done = vigie(
        *argv,
        "--database-url",
        closed,
        "--data-dir",
        str(tmp_path),
        env=clean_env(),
        stdin=f"{PASSWORD}\n",
    )
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: cannot reach the database postgres@127.0.0.1:"), (
        done.stderr
    )
    assert f"(--database-url; no vigie up running on {tmp_path})" in done.stderr


def test_an_unreachable_broker_is_one_line_and_a_failure_for_the_billing_simulator(
    tmp_path: Path,
) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    done = vigie(
        *("simulate", "billing", "--kafka-bootstrap", bootstrap, "--data-dir", str(tmp_path)),
        env=clean_env(),
    )
    assert done.returncode != 0
    assert done.stderr == f"error: cannot reach the broker {bootstrap} (--kafka-bootstrap;" + (
        f" no vigie up running on {tmp_path})\n"
    )


def test_a_stack_file_whose_vigie_up_is_gone_is_ignored(tmp_path: Path) -> None:
    # A process whose command line names vigie, as ``vigie up``'s does.
    stand_in = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "vigie", "up"]
    )
    try:
        publish(
            RunningStack(
                pid=stand_in.pid,
                data_dir=tmp_path,
                database_url="postgresql://postgres@127.0.0.1:1/postgres",
                kafka_bootstrap="127.0.0.1:1",
                broker="tansu",
            )
        )
        assert os.stat(stack_file(tmp_path)).st_mode & 0o777 == 0o600
        running = find_running(tmp_path)
        assert running is not None
        assert running.pid == stand_in.pid
    finally:
        stand_in.kill()
        stand_in.wait()
    assert find_running(tmp_path) is None


def test_settings_that_refuse_to_load_are_one_line_and_a_failure(tmp_path: Path) -> None:
    done = vigie(
        "audit", "verify", "--data-dir", str(tmp_path), env=clean_env(VIGIE_ENV="production")
    )
    assert done.returncode == 1
    assert done.stderr == (
        "error: Value error, VIGIE_SECRET_KEY must be set to a random value of 32+ characters\n"
    )
