"""``vigie user list``: the accounts with the ids that ``vigie access suspend --learner`` takes,
by e-mail, a page at a time, filtered by role, in text and in JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.cli.support import run


def add(
    email: str, role: str, database_url: str, schema: str, tmp_path: Path, mp: pytest.MonkeyPatch
) -> None:
    mp.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    argv = ["user", "add", "--username", email.split("@")[0], "--email", email, "--role", role]
    assert run([*argv, "--password-stdin"], database_url, schema, tmp_path) == 0


def test_user_list_pages_by_email_and_filters_by_role(
    database_url: str,
    schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for email, role in [
        ("zoe@example.org", "learner"),
        ("amine@example.org", "learner"),
        ("dpo@example.org", "dpo"),
    ]:
        add(email, role, database_url, schema, tmp_path, monkeypatch)
    capsys.readouterr()

    assert run(["user", "list", "--json"], database_url, schema, tmp_path) == 0
    everyone = json.loads(capsys.readouterr().out)
    assert [a["email"] for a in everyone] == [
        "amine@example.org",
        "dpo@example.org",
        "zoe@example.org",
    ]
    assert all(a["id"] for a in everyone)

    assert run(["user", "list", "--limit", "2"], database_url, schema, tmp_path) == 0
    out = capsys.readouterr()
    assert [line.split()[1] for line in out.out.splitlines()] == [
        "amine@example.org",
        "dpo@example.org",
    ]
    assert out.out.splitlines()[0].startswith(everyone[0]["id"])
    assert "--after dpo@example.org" in out.err
    assert run(["user", "list", "--after", "dpo@example.org"], database_url, schema, tmp_path) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == ["zoe@example.org"]

    assert run(["user", "list", "--role", "dpo", "--json"], database_url, schema, tmp_path) == 0
    assert [a["email"] for a in json.loads(capsys.readouterr().out)] == ["dpo@example.org"]
