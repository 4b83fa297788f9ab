"""``vigie up`` run as a newcomer runs it, for the CLI tests: in a session of its own (so that a
stop that fails can kill everything it started), on a temporary data dir and free ports, its
output collected; and what a relying party does against it (authorization code + PKCE)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from vigie_shared.kit.embedded import free_port, port_open

SERVICES = ("sso_gateway", "dpo_requests", "audit_log")
CALLBACK = "http://127.0.0.1:8765/callback"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``VIGIE_*`` setting: a newcomer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(extra)
    return env


def vigie(*argv: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """One ``vigie`` command, as typed in another terminal."""
    return subprocess.run(
        [sys.executable, "-m", "vigie_shared.cli", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes: it holds no port and runs nothing.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return False


class Up:
    """``vigie up`` on ``data_dir``. Use it as a context manager: on leaving, whatever still runs
    (``vigie up``, its services and broker, its daemonised PostgreSQL) is killed."""

    def __init__(
        self,
        data_dir: Path,
        *,
        demo: bool = True,
        broker: str = "tansu",
        ignore_sigint: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.ports = {name: free_port() for name in SERVICES}
        self.kafka_port = free_port()
        env = clean_env(**{f"VIGIE_{name.upper()}_PORT": str(p) for name, p in self.ports.items()})
        # The portal takes its default port when free: two stacks started at once by parallel
        # test workers would both see it free.
        env["VIGIE_PAYMENT_PORT"] = str(free_port())

        def in_child() -> None:
            # What a background job or some CI runners hand their children.
            if ignore_sigint:
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vigie_shared.cli",
                "up",
                *(["--demo"] if demo else []),
                "--data-dir",
                str(data_dir),
                "--broker",
                broker,
                "--kafka-port",
                str(self.kafka_port),
                "--timeout",
                "90",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=in_child,
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

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def wait_for(self, text: str, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed; output:\n{self.output}")
            time.sleep(0.2)

    def wait_up(self) -> None:
        self.wait_for("Ctrl-C stops everything")

    def children(self) -> list[int]:
        """The pids of ``vigie up``'s child processes (services, broker)."""
        found = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in found.read_text().split()] if found.exists() else []

    def interrupt(self, timeout: float = 60) -> int:
        """SIGINT, as Ctrl-C sends it; the exit code."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def postmaster(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        return None

    def kill_everything(self) -> None:
        """What a failed stop leaves: the session's processes (services and broker die with
        ``vigie up``), and PostgreSQL, which ``pg_ctl`` daemonised out of it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        postmaster = self.postmaster()
        if postmaster is not None and _alive(postmaster):
            os.kill(postmaster, signal.SIGQUIT)

    def __enter__(self) -> Up:
        return self

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.kill_everything()
        self._reader.join(5)


def nothing_left_running(pids: list[int], ports: list[int]) -> list[str]:
    """What still runs or listens among ``pids`` and ``ports``, once given time to go."""
    deadline = time.monotonic() + 10
    while True:
        left = [f"pid {pid}" for pid in pids if _alive(pid)]
        left += [f"port {port}" for port in ports if port_open("127.0.0.1", port)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


async def log_in(
    issuer: str,
    *,
    client_id: str,
    client_secret: str,
    identifier: str,
    password: str,
    redirect_uri: str = CALLBACK,
    refresh: bool = False,
) -> dict[str, str]:
    """A relying party written only with Authlib's OAuth client (not the project's code):
    discovery, authorization code + PKCE S256 with the person's login form filled by an HTTP
    client keeping cookies, token, userinfo (and with ``refresh``, a refresh whose new access
    token reads the same subject). Returns the userinfo claims."""
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import (
        AsyncOAuth2Client,
    )

    async with httpx.AsyncClient() as http:
        metadata = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
    assert metadata["issuer"] == issuer
    verifier = generate_token(48)
    async with (
        AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            scope="openid profile email",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        ) as rp,
        httpx.AsyncClient(base_url=issuer) as browser,
    ):
        url, state = rp.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier
        )
        to_login = await browser.get(url)
        assert to_login.status_code in (302, 303), to_login.text
        login_url = urljoin(issuer, to_login.headers["location"])
        form = await browser.get(login_url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        submitted = await browser.post(
            "/login",
            data={
                "identifier": identifier,
                "password": password,
                "csrf_token": csrf[1],
                "next": parse_qs(urlsplit(login_url).query)["next"][0],
                "lang": "fr",
            },
        )
        assert submitted.status_code in (302, 303), submitted.text
        back = await browser.get(urljoin(issuer, submitted.headers["location"]))
        callback = back.headers["location"]
        assert callback.startswith(redirect_uri), callback
        assert parse_qs(urlsplit(callback).query)["state"] == [state]
        token = await rp.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
        )
        info: dict[str, str] = (await rp.get(metadata["userinfo_endpoint"])).json()
        if refresh:
            refreshed = await rp.refresh_token(metadata["token_endpoint"])
            assert refreshed["access_token"] != token["access_token"]
            assert (await rp.get(metadata["userinfo_endpoint"])).json()["sub"] == info["sub"]
        return info
