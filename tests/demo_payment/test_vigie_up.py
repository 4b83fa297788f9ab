"""``vigie up --demo`` runs the payment portal beside the services, says where, and registers
the ``paiement`` client for the port the portal really got: a demo learner logs in to it
through the gateway with the secret ``vigie up`` derived, and its home page (``client_uri``)
is the one the refusal page lists."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import asyncpg
import httpx
import pytest

from tests.cli.vigie_up import Up
from vigie_shared.kit.stack_file import stack_file

pytestmark = pytest.mark.broker


async def registered(database_url: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(database_url)
    try:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT redirect_uris, client_uri, training_platform FROM sso.clients"
            " WHERE client_id = 'paiement'"
        )
        return row
    finally:
        await conn.close()


def log_in_to_portal(portal: str, issuer: str, identifier: str, password: str) -> str:
    """A person's browser (an HTTP client keeping cookies) from the portal's login link through
    the gateway's form and back; the portal's page it ends on."""
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        to_gateway = http.get(f"{portal}/login")
        assert to_gateway.status_code == 303, to_gateway.text
        authorize = to_gateway.headers["location"]
        assert authorize.startswith(f"{issuer}/authorize?")
        to_form = http.get(authorize)
        # An unregistered redirect URI would get a 400 page here, not the login form.
        assert to_form.status_code in (302, 303), to_form.text
        login_url = urljoin(issuer, to_form.headers["location"])
        form = http.get(login_url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        submitted = http.post(
            f"{issuer}/login",
            data={
                "identifier": identifier,
                "password": password,
                "csrf_token": csrf[1],
                "next": parse_qs(urlsplit(login_url).query)["next"][0],
                "lang": "fr",
            },
        )
        assert submitted.status_code in (302, 303), submitted.text
        back = http.get(urljoin(issuer, submitted.headers["location"]))
        callback = back.headers["location"]
        assert callback.startswith(f"{portal}/auth/callback?"), callback
        home = http.get(callback)
        assert home.status_code == 303, home.text
        return http.get(urljoin(portal, home.headers["location"])).text


def test_vigie_up_demo_runs_the_payment_portal_registered_on_its_port(tmp_path: Path) -> None:
    with Up(tmp_path / "data") as up:
        up.wait_up()
        found = re.search(r"^  paiement\s+(http://127\.0\.0\.1:(\d+))/", up.output, re.M)
        assert found is not None, up.output
        portal = found[1]
        assert httpx.get(f"{portal}/readyz", timeout=5).status_code == 200
        stack = json.loads(stack_file(up.data_dir).read_text())
        row = asyncio.run(registered(stack["database_url"]))
        assert row is not None
        assert f"{portal}/auth/callback" in row["redirect_uris"]
        assert row["client_uri"] == f"{portal}/"
        assert row["training_platform"] is False
        page = log_in_to_portal(
            portal,
            up.url("sso_gateway"),
            "camille.martin@demo.example.org",
            "demo-apprenant-2026",
        )
        assert "Camille Martin" in page
        assert "Aucune somme n" in page
        assert up.interrupt() == 0, up.output
