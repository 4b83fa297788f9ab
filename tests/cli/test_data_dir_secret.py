"""The secret of a ``vigie up`` stack is random per data dir, not the public development
constant (anyone could forge a pages cookie or decrypt the stored signing keys with it); and
``--demo``, whose passwords are published, does not run in production."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from sso_gateway.demo import demo_secret
from tests.cli.vigie_up import Up, clean_env, vigie
from vigie_shared.kit.settings import (
    DEV_SECRET,
    SECRET_FILE,
    ServiceSettings,
    create_data_dir_secret,
)


@pytest.mark.broker
def test_vigie_up_generates_a_secret_its_services_use_and_the_next_run_keeps(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with Up(data_dir) as up:
        up.wait_up()
        secret_file = data_dir / SECRET_FILE
        assert secret_file.stat().st_mode & 0o777 == 0o600
        secret = secret_file.read_text()
        assert len(secret) >= 32
        assert secret != DEV_SECRET
        # The gateway registered the demo platforms with secrets derived from it.
        printed = re.search(r"platform   moodle / (\S+)", up.output)
        assert printed is not None, up.output
        assert printed[1] == demo_secret(secret, "moodle")
        assert printed[1] != demo_secret(DEV_SECRET, "moodle")
        assert up.interrupt() == 0, up.output

    # The signing keys encrypted under it still open: the gateway starts again.
    with Up(data_dir, demo=False) as again:
        again.wait_up()
        assert (data_dir / SECRET_FILE).read_text() == secret
        assert again.interrupt() == 0, again.output


def test_each_data_dir_gets_its_own_secret_once_and_its_settings_read_it(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir()
    other.mkdir()
    first = create_data_dir_secret(one)
    assert create_data_dir_secret(one) == first
    assert create_data_dir_secret(other) != first
    assert (one / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert ServiceSettings(data_dir=one).secret_key == first
    chosen = secrets.token_urlsafe(40)
    assert ServiceSettings(data_dir=one, secret_key=chosen).secret_key == chosen


def test_vigie_up_demo_refuses_to_run_with_vigie_env_production(tmp_path: Path) -> None:
    env = clean_env(VIGIE_ENV="production", VIGIE_SECRET_KEY=secrets.token_urlsafe(40))
    done = vigie("up", "--demo", "--data-dir", str(tmp_path / "data"), env=env)
    assert done.returncode == 1
    assert done.stderr == (
        "error: --demo seeds accounts whose passwords are published: not with"
        " VIGIE_ENV=production\n"
    )
    assert not (tmp_path / "data").exists()
