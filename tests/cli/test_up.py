"""``vigie up --demo`` as a newcomer runs it (``make run``): embedded broker and embedded
PostgreSQL, three services ready, demo data printed, Ctrl-C stops everything, and a second run
on the same data directory keeps the data."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import httpx
import pytest

from tests.cli.vigie_up import SERVICES, Up, log_in, nothing_left_running

pytestmark = pytest.mark.broker


def test_vigie_up_demo_runs_everything_and_keeps_data_across_runs(tmp_path: Path) -> None:
    with Up(tmp_path / "data") as up:
        up.wait_up()
        for name, port in up.ports.items():
            response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            assert response.status_code == 200, name
            assert f"http://127.0.0.1:{port}" in up.output
        assert f"http://127.0.0.1:{up.ports['dpo_requests']}/pages/" in up.output
        assert "camille.martin@demo.example.org / demo-apprenant-2026" in up.output
        assert "dpo@demo.example.org" in up.output
        first = re.search(r"(\d+) rights requests on file", up.output)
        assert first is not None
        # A year of requests and the year before (the seed's 147 after 81), for the dashboard.
        assert int(first.group(1)) == 81 + 147
        code = up.interrupt()
    assert code == 0, up.output
    assert "Vigie stopped." in up.output

    with Up(tmp_path / "data") as again:
        again.wait_up()
        second = re.search(r"(\d+) rights requests on file", again.output)
        assert second is not None, again.output
        assert int(second.group(1)) == 81 + 147
        assert "0 migration(s) applied" in again.output
        assert again.interrupt() == 0, again.output


def test_standard_oidc_client_completes_code_pkce_refresh_and_userinfo_against_vigie_up(
    tmp_path: Path,
) -> None:
    with Up(tmp_path / "data") as up:
        up.wait_up()
        secret = re.search(r"platform   moodle / (\S+)", up.output)
        assert secret is not None, up.output
        info = asyncio.run(
            log_in(
                up.url("sso_gateway"),
                client_id="moodle",
                client_secret=secret[1],
                identifier="camille.martin@demo.example.org",
                password="demo-apprenant-2026",
                refresh=True,
            )
        )
        assert info["email"] == "camille.martin@demo.example.org"
        # The pages listen on a port of this test's choosing: their demo client redirects
        # there, so the gateway accepts the pages' login instead of refusing the redirect URI.
        pages = httpx.get(f"{up.url('dpo_requests')}/pages/login", timeout=10)
        assert pages.status_code == 303, pages.text
        at_gateway = httpx.get(pages.headers["location"], timeout=10)
        assert at_gateway.status_code == 302, at_gateway.text
        assert "/login?" in at_gateway.headers["location"]
        assert up.interrupt() == 0, up.output


def test_sigint_stops_vigie_up_started_with_sigint_ignored_leaving_nothing_running(
    tmp_path: Path,
) -> None:
    """A background job (``make run &``) or a CI runner hands its children SIGINT ignored; the
    stack must stop on SIGINT all the same, with exit code 0 (``make`` then reports no error),
    and leave no service, broker or port behind."""
    with Up(tmp_path / "data", demo=False, ignore_sigint=True) as up:
        up.wait_up()
        children = up.children()
        assert len(children) == len(SERVICES) + 1, children  # the services and the broker
        postmaster = up.postmaster()
        assert postmaster is not None
        code = up.interrupt()
    assert code == 0, up.output
    assert "SIGINT: stopping" in up.output
    assert "exited with code" not in up.output, up.output
    ports = [*up.ports.values(), up.kafka_port]
    assert nothing_left_running([*children, postmaster], ports) == []
    assert not (up.data_dir / "stack.json").exists()


def test_a_service_dying_unasked_stops_vigie_up_with_its_reason_and_a_failure(
    tmp_path: Path,
) -> None:
    with Up(tmp_path / "data", demo=False) as up:
        up.wait_up()
        children = up.children()
        audit = next(
            pid for pid in children if b"audit_log" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        os.kill(audit, signal.SIGKILL)
        code = up.proc.wait(60)
    assert code == 1, up.output
    assert "audit_log was killed by SIGKILL unasked; stopping the rest" in up.output
    assert nothing_left_running(children, list(up.ports.values())) == []
