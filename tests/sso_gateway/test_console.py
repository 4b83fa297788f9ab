"""The audit log's documented way in: the shell commands of docs/audit-log.md ("Reading the log
beside `make run`"), run as written by bash and curl against the real gateway and audit log
served over HTTP, the browser step (signing in as the demo DPO) done by a scripted browser.
Only the ports change: the test's servers cannot take 8000 and 8002."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from sso_gateway.demo import seed_demo
from tests.fixtures.serving import serving
from tests.security.conftest import Services, services
from vigie_shared.kit.embedded import free_port
from vigie_shared.kit.oidc import TokenVerifier

__all__ = ["services"]

from tests.sso_gateway.support import ISSUER, Account, login_through_form, query_of

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

DOC = Path(__file__).parents[2] / "docs" / "audit-log.md"
SECTION = "## Reading the log beside `make run`"
END = "<<<end of command>>>"


def documented_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


async def bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest_asyncio.fixture(loop_scope="session")
async def stack(services: Services) -> AsyncIterator[tuple[int, int]]:
    """The gateway and the audit log on free ports, the audit log trusting the gateway."""
    await seed_demo(services.sso.state.provider.settings)
    saved = services.audit.state.token_verifier
    gateway = httpx.AsyncClient(transport=httpx.ASGITransport(app=services.sso), base_url=ISSUER)
    services.audit.state.token_verifier = TokenVerifier(ISSUER, "audit-log", http=gateway)
    sso_port, audit_port = free_port(), free_port()
    try:
        async with serving(services.sso, sso_port), serving(services.audit, audit_port):
            yield sso_port, audit_port
    finally:
        services.audit.state.token_verifier = saved
        await gateway.aclose()


async def test_the_documented_commands_give_a_dpo_the_entries_and_the_campaign_report(
    services: Services, stack: tuple[int, int], tmp_path: Path
) -> None:
    sso_port, audit_port = stack
    blocks = [
        block.replace("127.0.0.1:8000", f"127.0.0.1:{sso_port}").replace(
            "127.0.0.1:8002", f"127.0.0.1:{audit_port}"
        )
        for block in documented_blocks()
    ]
    assert len(blocks) == 2

    # 1. The verifier, its challenge and the URL to open.
    printed = await bash(blocks[0] + 'echo "$VERIFIER"\n', tmp_path, {})
    url, verifier = printed.split()
    assert urlsplit(url).netloc == f"127.0.0.1:{sso_port}"

    # 2. The browser: the demo DPO signs in; the code is in the address bar it lands on.
    dpo = Account("", "dpo@demo.example.org", "dpo@demo.example.org", "demo-dpo-2026-vigie")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sso_port}") as http:
        landed = await login_through_form(http, url, dpo)
    assert landed.status_code == 302, landed.text
    assert landed.headers["location"].startswith("http://127.0.0.1:8766/callback?")
    code = query_of(landed.headers["location"])["code"]

    # 3 and 4. The code for a token, then the reads, each output kept apart.
    script = blocks[1].replace("CODE=paste-the-code-here", f"CODE={code}")
    script = re.sub(r"^(curl .*)$", rf"\1\necho '{END}'", script, flags=re.MULTILINE)
    outputs = (await bash(script, tmp_path, {"VERIFIER": verifier})).split(END)
    entries, report, rest = (o.strip() for o in outputs[:3])
    assert rest == ""
    assert "entries" in json.loads(entries)
    figures = json.loads(report)
    assert (figures["since"], figures["until"]) == (None, None)
    assert figures["total"]["channel"] == "all"
    rows = list(csv.DictReader(io.StringIO((tmp_path / "campaign.csv").read_text())))
    assert (rows[-1]["period"], rows[-1]["channel"]) == ("all", "all")
    # Every read the commands made is on the record, under the DPO's id.
    reads = await Services.pool(services.audit).fetch(
        "SELECT subject FROM log_entries WHERE type = 'vigie.audit.read'"
        " ORDER BY leaf_index DESC LIMIT 3"
    )
    dpo_id = await Services.pool(services.sso).fetchval(
        "SELECT id FROM users WHERE email = $1", dpo.email
    )
    assert [r["subject"] for r in reads] == [dpo_id] * 3
