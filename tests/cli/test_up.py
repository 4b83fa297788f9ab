"""``vigie up --demo`` as a newcomer runs it (``make run``): embedded broker and embedded
PostgreSQL, three services ready, demo data printed, Ctrl-C stops everything, and a second run
on the same data directory keeps the data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from vigie_shared.kit.embedded import free_port

pytestmark = pytest.mark.broker


class Up:
    def __init__(self, data_dir: Path) -> None:
        self.ports = {name: free_port() for name in ("sso_gateway", "dpo_requests", "audit_log")}
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
        env.update({f"VIGIE_{name.upper()}_PORT": str(p) for name, p in self.ports.items()})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vigie_shared.cli",
                "up",
                "--demo",
                "--data-dir",
                str(data_dir),
                "--kafka-port",
                str(free_port()),
                "--timeout",
                "90",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed; output:\n{self.output}")
            time.sleep(0.2)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(60)
        self._reader.join(5)
        return code


def test_vigie_up_demo_runs_everything_and_keeps_data_across_runs(tmp_path: Path) -> None:
    up = Up(tmp_path / "data")
    try:
        up.wait_for("Ctrl-C stops everything", timeout=120)
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
    finally:
        code = up.interrupt()
    assert code == 0, up.output
    assert "Vigie stopped." in up.output

    again = Up(tmp_path / "data")
    try:
        again.wait_for("Ctrl-C stops everything", timeout=120)
        second = re.search(r"(\d+) rights requests on file", again.output)
        assert second is not None, again.output
        assert int(second.group(1)) == 81 + 147
        assert "0 migration(s) applied" in again.output
    finally:
        assert again.interrupt() == 0, again.output


def test_standard_oidc_client_completes_code_pkce_refresh_and_userinfo_against_vigie_up(
    tmp_path: Path,
) -> None:
    """A relying party written only with Authlib's OAuth client (not the project's code):
    discovery, authorization code + PKCE (the learner's form filled by an HTTP client keeping
    cookies), token, userinfo, refresh."""
    import asyncio

    up = Up(tmp_path / "data")
    try:
        up.wait_for("Ctrl-C stops everything", timeout=120)
        secret = re.search(r"platform   moodle / (\S+)", up.output)
        assert secret is not None, up.output
        asyncio.run(_relying_party(f"http://127.0.0.1:{up.ports['sso_gateway']}", secret[1]))
    finally:
        assert up.interrupt() == 0, up.output


async def _relying_party(issuer: str, secret: str) -> None:
    from urllib.parse import parse_qs, urljoin, urlsplit

    from authlib.common.security import generate_token  # type: ignore[import-untyped]
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )

    async with httpx.AsyncClient() as http:
        metadata = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
    assert metadata["issuer"] == issuer
    verifier = generate_token(48)
    async with (
        AsyncOAuth2Client(
            client_id="moodle",
            client_secret=secret,
            scope="openid profile email",
            redirect_uri="http://127.0.0.1:8765/callback",
            code_challenge_method="S256",
        ) as rp,
        httpx.AsyncClient(base_url=issuer) as browser,
    ):
        url, state = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier
        )
        to_login = await browser.get(url)
        login_url = urljoin(issuer, to_login.headers["location"])
        form = await browser.get(login_url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        submitted = await browser.post(
            "/login",
            data={
                "identifier": "camille.martin@demo.example.org",
                "password": "demo-apprenant-2026",
                "csrf_token": csrf[1],
                "next": parse_qs(urlsplit(login_url).query)["next"][0],
                "lang": "fr",
            },
        )
        back = await browser.get(urljoin(issuer, submitted.headers["location"]))
        callback = back.headers["location"]
        assert callback.startswith("http://127.0.0.1:8765/callback")
        token = await rp.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
        assert parse_qs(urlsplit(callback).query)["state"] == [state]
        info = (await rp.get(metadata["userinfo_endpoint"])).json()
        assert info["email"] == "camille.martin@demo.example.org"
        refreshed = await rp.refresh_token(metadata["token_endpoint"])
        assert refreshed["access_token"] != token["access_token"]
        assert (await rp.get(metadata["userinfo_endpoint"])).json()["sub"] == info["sub"]
