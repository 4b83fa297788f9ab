"""The embedded broker does not outlive the process that started it, even one killed outright
(kit/embedded.py: PR_SET_PDEATHSIG on Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vigie_shared.kit.embedded import free_port, port_open

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(2) is Linux's"),
]

ROOT = Path(__file__).resolve().parents[2]

PARENT = """
import sys, time
from vigie_shared.kit.embedded import EmbeddedBroker
broker = EmbeddedBroker(port=int(sys.argv[1])).start()
print(broker.pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a reaper that a container may not have."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_broker_whose_parent_is_killed_outright_dies_with_it() -> None:
    port = free_port()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(port)], cwd=ROOT, stdout=subprocess.PIPE
    )
    broker_pid: int | None = None
    try:
        assert parent.stdout is not None
        broker_pid = int(parent.stdout.readline())
        assert alive(broker_pid)
        assert port_open("127.0.0.1", port)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        # The leader thread shows as a zombie while the others still exit and hold the socket.
        deadline = time.monotonic() + 10
        while (alive(broker_pid) or port_open("127.0.0.1", port)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(broker_pid), "the broker outlived its parent"
        assert not port_open("127.0.0.1", port), "the broker's port is still held"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if broker_pid is not None and alive(broker_pid):
            # Without the fix the broker would outlive the test run too.
            os.kill(broker_pid, signal.SIGKILL)
