"""Hostile input against each service's OpenAPI document: Schemathesis generates requests from
the schema and from its negations; no 500, and every response matches what the document
promises."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vigie_shared.kit.embedded import free_port

pytestmark = pytest.mark.broker

SERVICES = ("sso_gateway", "dpo_requests", "audit_log")


@pytest.fixture(scope="module")
def running(
    database_url: str, kafka: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The three services as processes of their own, on the test database and broker."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    logs = tmp_path_factory.mktemp("services")
    for name in SERVICES:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
        env.update(
            VIGIE_DATABASE_URL=database_url,
            VIGIE_KAFKA_BOOTSTRAP=kafka,
            VIGIE_HTTP_PORT=str(port),
            VIGIE_LOG_LEVEL="WARNING",
        )
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", name], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        for name, url in urls.items():
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if procs[name].poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((logs / f"{name}.log").read_text()[-3000:])
                time.sleep(0.3)
        yield urls
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(30)


# The first run also starts the three services (up to 90 s on two loaded cores): above the
# default. A fixed number of examples per operation and a seed, not a time budget (Schemathesis
# repeats fuzzing until a --max-time is spent), so every run sends the same requests.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", SERVICES)
def test_no_server_error_and_no_schema_violation_from_generated_requests(
    running: dict[str, str], name: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.txt"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{running[name]}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,"
            "content_type_conformance,status_code_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report.write_text(done.stdout + done.stderr)
    print(
        "\n".join(
            line for line in done.stdout.splitlines() if "Operations:" in line or "passed" in line
        )
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
