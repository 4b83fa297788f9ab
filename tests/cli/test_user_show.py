"""``vigie user show EMAIL``: the account's id, which ``vigie access suspend --learner`` takes,
and whether its access is suspended, in text and in JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.cli.support import run


def test_user_show_gives_the_id_access_suspend_takes_and_the_access_it_leaves(
    database_url: str,
    schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    add = ["user", "add", "--username", "ines.k", "--email", "ines.k@example.org"]
    assert run([*add, "--password-stdin", "--json"], database_url, schema, tmp_path) == 0
    created = json.loads(capsys.readouterr().out)

    assert run(["user", "show", "INES.K@example.org"], database_url, schema, tmp_path) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == f"id: {created['id']}"
    assert "username: ines.k" in shown
    assert "roles: learner" in shown
    assert "access: open" in shown

    suspend = ["access", "suspend", "--learner", created["id"], "--reason", "impayé"]
    assert run([*suspend, "--actor", "u-compta"], database_url, schema, tmp_path) == 0
    capsys.readouterr()
    assert (
        run(["user", "show", "ines.k@example.org", "--json"], database_url, schema, tmp_path) == 0
    )
    account = json.loads(capsys.readouterr().out)
    assert account["id"] == created["id"]
    assert account["suspended"] is True


def test_user_show_of_an_unknown_e_mail_fails_and_says_so(
    database_url: str, schema: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["user", "show", "nobody@example.org"], database_url, schema, tmp_path) == 1
    assert "error: no account with the e-mail nobody@example.org" in capsys.readouterr().err
