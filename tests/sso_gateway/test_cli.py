"""``vigie user add``, ``vigie client add``, ``vigie keys rotate`` through their parser."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from joserfc.jwk import ECKey

from sso_gateway import crypto
from sso_gateway.cli import register_commands
from sso_gateway.config import Settings


def run(argv: list[str], database_url: str, schema: str) -> int:
    parser = argparse.ArgumentParser(prog="vigie")
    register_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([*argv, "--database-url", database_url, "--schema", schema])
    code: int = args.func(args)
    return code


def fetch(database_url: str, schema: str, sql: str, *params: Any) -> list[asyncpg.Record]:
    async def query() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            return list(await conn.fetch(sql, *params))
        finally:
            await conn.close()

    return asyncio.run(query())


def test_user_add_reads_the_password_from_stdin_and_hashes_it_with_argon2id(
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    code = run(
        [
            "user",
            "add",
            "--username",
            "dpo.lea",
            "--email",
            "lea@example.org",
            "--password-stdin",
            "--role",
            "dpo",
            "--json",
        ],
        database_url,
        schema,
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["username"] == "dpo.lea"
    assert printed["roles"] == ["dpo"]
    rows = fetch(database_url, schema, "SELECT password_hash, roles FROM users")
    assert rows[0]["password_hash"].startswith("$argon2id$")
    assert "a long enough password" not in rows[0]["password_hash"]


def test_user_add_refuses_a_taken_username(
    database_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["user", "add", "--username", "u1", "--email", "u1@example.org", "--password-stdin"]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert run(argv, database_url, schema) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    argv[5] = "other@example.org"
    assert run(argv, database_url, schema) == 1


def test_client_add_prints_the_secret_once_and_stores_only_its_keyed_hash(
    database_url: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "client",
            "add",
            "--name",
            "Moodle",
            "--redirect-uri",
            "https://moodle.example/cb",
            "--redirect-uri",
            "https://moodle.example/cb2",
            "--post-logout-redirect-uri",
            "https://moodle.example/bye",
            "--backchannel-logout-uri",
            "https://moodle.example/bcl",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--json",
        ],
        database_url,
        schema,
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["client_id"] == "moodle"
    secret = printed["client_secret"]
    assert secret.startswith("vigie_cs_")
    assert len(secret) > 40
    row = fetch(database_url, schema, "SELECT * FROM clients")[0]
    assert row["secret_hash"] == crypto.keyed_hash(Settings().secret_key, secret)
    assert secret not in str(dict(row))
    assert row["redirect_uris"] == ["https://moodle.example/cb", "https://moodle.example/cb2"]
    assert row["backchannel_logout_uri"] == "https://moodle.example/bcl"
    events = fetch(database_url, schema, "SELECT headers FROM outbox")
    assert ["ce_type", "vigie.sso.client.registered"] in json.loads(events[0]["headers"])


def test_public_client_add_has_no_secret(
    database_url: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "client",
            "add",
            "--name",
            "Prepa",
            "--redirect-uri",
            "https://prepa.example/cb",
            "--public",
            "--json",
        ],
        database_url,
        schema,
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"client_id": "prepa"}


def test_fapi_client_add_with_a_jwks_uri_shows_no_secret(
    database_url: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["client", "add", "--name", "Bank", "--redirect-uri", "https://bank.example/cb"]
    code = run([*argv, "--fapi", "--jwks-uri", "https://bank.example/jwks"], database_url, schema)
    assert code == 0
    assert capsys.readouterr().out == "client_id: bank\n"
    row = fetch(database_url, schema, "SELECT * FROM clients WHERE client_id = 'bank'")[0]
    assert row["secret_hash"] is None
    assert row["token_endpoint_auth_method"] == "private_key_jwt"
    assert row["jwks_uri"] == "https://bank.example/jwks"
    assert row["jwks"] is None
    assert row["fapi"]
    assert row["require_pushed_authorization_requests"]
    assert row["dpop_bound_access_tokens"]


def test_private_key_jwt_client_add_reads_its_jwks_from_a_file(
    database_url: str, schema: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jwks = {"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    code = run(
        [
            "client",
            "add",
            "--name",
            "Payroll",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            str(path),
            "--json",
        ],
        database_url,
        schema,
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"client_id": "payroll"}
    row = fetch(database_url, schema, "SELECT * FROM clients WHERE client_id = 'payroll'")[0]
    assert row["secret_hash"] is None
    assert json.loads(row["jwks"]) == jwks
    assert not row["fapi"]


def test_fapi_client_add_without_keys_is_refused(
    database_url: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["client", "add", "--name", "Bank", "--redirect-uri", "https://bank.example/cb"]
    assert run([*argv, "--fapi"], database_url, schema) == 1
    assert "private_key_jwt needs its keys" in capsys.readouterr().err


def test_keys_rotate_publishes_new_keys_that_sign_later(
    database_url: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["keys", "rotate", "--publish-delay", "300", "--json"], database_url, schema) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["signs_in_seconds"] == 300
    rows = fetch(
        database_url,
        schema,
        "SELECT kid, alg, activates_at > now() AS later, retires_at IS NOT NULL AS retiring"
        " FROM signing_keys ORDER BY created_at",
    )
    assert {r["alg"] for r in rows} == {"ES256", "RS256"}
    assert len(rows) == 4
    new = [r for r in rows if r["kid"] in printed["published"]]
    old = [r for r in rows if r["kid"] not in printed["published"]]
    assert all(r["later"] and not r["retiring"] for r in new)
    assert all(r["retiring"] for r in old)


def test_signals_commands_show_delivery_state_and_queue_a_verification_event(
    database_url: str, schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            [
                "client",
                "add",
                "--name",
                "Receiver",
                "--client-id",
                "lms-ssf",
                "--grant-type",
                "client_credentials",
                "--scope",
                "ssf.manage",
                "--scope",
                "ssf.read",
                "--json",
            ],
            database_url,
            schema,
        )
        == 0
    )
    (stored,) = fetch(
        database_url, schema, "SELECT scopes FROM clients WHERE client_id = 'lms-ssf'"
    )
    assert stored["scopes"] == ["ssf.manage", "ssf.read"]
    fetch(
        database_url,
        schema,
        "INSERT INTO ssf_streams (id, client_id, audience, delivery_method)"
        " VALUES ('ssf-1', 'lms-ssf', 'lms-ssf', 'urn:ietf:rfc:8936')",
    )
    capsys.readouterr()
    assert (
        run(["signals", "verify", "--stream", "ssf-1", "--state", "s1"], database_url, schema) == 0
    )
    assert run(["signals", "verify", "--stream", "nope"], database_url, schema) == 1
    capsys.readouterr()
    assert run(["signals", "streams", "--json"], database_url, schema) == 0
    (state,) = json.loads(capsys.readouterr().out)
    assert (state["stream_id"], state["client_id"], state["pending"]) == ("ssf-1", "lms-ssf", 1)
    (event,) = fetch(database_url, schema, "SELECT claims FROM ssf_events")
    claims = json.loads(event["claims"])  # a bare connection: jsonb as text
    assert claims["events"] == {
        "https://schemas.openid.net/secevent/ssf/event-type/verification": {"state": "s1"}
    }


def add_user(
    username: str,
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """``vigie user add`` of ``username``; its id."""
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    email = f"{username}@example.org"
    argv = ["user", "add", "--username", username, "--email", email, "--password-stdin"]
    assert run([*argv, "--json"], database_url, schema) == 0
    user_id: str = json.loads(capsys.readouterr().out)["id"]
    return user_id


def test_user_password_resets_it_ends_every_session_and_writes_a_credential_change(
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user_id = add_user("lea", database_url, schema, monkeypatch, capsys)
    (old,) = fetch(database_url, schema, "SELECT password_hash FROM users")
    fetch(
        database_url,
        schema,
        "INSERT INTO clients (client_id, name, redirect_uris, scopes)"
        " VALUES ('lms-ssf', 'Receiver', '{}', '{ssf.manage}')",
    )
    fetch(
        database_url,
        schema,
        "INSERT INTO ssf_streams (id, client_id, audience, delivery_method, events_delivered)"
        " VALUES ('ssf-1', 'lms-ssf', 'lms-ssf', 'urn:ietf:rfc:8936',"
        " '{https://schemas.openid.net/secevent/caep/event-type/credential-change,"
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked}')",
    )
    fetch(
        database_url,
        schema,
        "INSERT INTO sessions (id, token_hash, user_id, expires_at)"
        " VALUES ('s-1', 'h1', $1, now() + interval '1 hour'),"
        " ('s-2', 'h2', $1, now() + interval '1 hour')",
        user_id,
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run(["user", "password", "lea", "--password-stdin"], database_url, schema) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert run(["user", "password", "nobody", "--password-stdin"], database_url, schema) == 1
    assert fetch(database_url, schema, "SELECT * FROM ssf_events") == []
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    reset = ["user", "password", "lea@example.org", "--password-stdin", "--json"]
    assert run(reset, database_url, schema) == 0
    assert json.loads(capsys.readouterr().out) == {"user_id": user_id, "sessions_ended": 2}
    (new,) = fetch(database_url, schema, "SELECT password_hash FROM users")
    assert new["password_hash"].startswith("$argon2id$")
    assert new["password_hash"] != old["password_hash"]
    assert fetch(database_url, schema, "SELECT id FROM sessions WHERE revoked_at IS NULL") == []
    events = fetch(database_url, schema, "SELECT event_type, claims FROM ssf_events ORDER BY id")
    changes = [json.loads(e["claims"])["events"] for e in events]
    caep = "https://schemas.openid.net/secevent/caep/event-type/"
    assert [next(iter(c)) for c in changes] == [
        caep + "credential-change",
        caep + "session-revoked",
        caep + "session-revoked",
    ]
    payload = changes[0][caep + "credential-change"]
    assert (payload["credential_type"], payload["change_type"]) == ("password", "revoke")
    assert payload["initiating_entity"] == "admin"


def test_user_sign_out_ends_every_live_session_of_the_account(
    database_url: str,
    schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user_id = add_user("noe", database_url, schema, monkeypatch, capsys)
    fetch(
        database_url,
        schema,
        "INSERT INTO sessions (id, token_hash, user_id, expires_at)"
        " VALUES ('s-a', 'ha', $1, now() + interval '1 hour'),"
        " ('s-b', 'hb', $1, now() + interval '1 hour')",
        user_id,
    )
    assert run(["user", "sign-out", "nobody"], database_url, schema) == 1
    assert run(["user", "sign-out", "noe", "--json"], database_url, schema) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "user_id": user_id,
        "sessions_ended": 2,
    }
    ended = fetch(database_url, schema, "SELECT end_reason FROM sessions ORDER BY id")
    assert [row["end_reason"] for row in ended] == ["admin", "admin"]
