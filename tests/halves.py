"""``make test`` on a two-core machine: the suite in two pytest sessions at once.

Most of the suite's time is waiting (consumer groups forming, brokers and JVMs starting, a
killed part's session expiring), so two sessions side by side finish well before one would.
Each session has its own PostgreSQL, brokers and temporary directories (the session fixtures
start them), and each runs its folders in the order one session would: each half is a
subsequence of the serial order, so no test meets an earlier test it would not have met in a
serial run. The three-node clusters (``faults``, ``deploy``) are in the same half, so
that two of them never run at once.

Arguments go to both sessions; with a path among them (``make test PYTEST_ARGS=tests/kit``), or
with ``VIGIE_TEST_SESSIONS=1``, one ordinary session runs instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

FIRST_HALF = frozenset({"audit_log", "cli", "demo_payment", "deploy", "faults"})
"""Folders of the first session; every other folder of tests/ is in the second. Balanced on
the durations of a serial run (each half about half of it)."""


def halves() -> tuple[list[str], list[str]]:
    folders = sorted(
        path.name
        for path in TESTS.iterdir()
        if path.is_dir() and path.name != "fixtures" and any(path.rglob("test_*.py"))
    )
    first = [f"tests/{name}" for name in folders if name in FIRST_HALF]
    second = [f"tests/{name}" for name in folders if name not in FIRST_HALF]
    return first, second


def _names_a_path(args: list[str]) -> bool:
    return any(not arg.startswith("-") and Path(arg.split("::")[0]).exists() for arg in args)


def _own(args: list[str], half: str) -> list[str]:
    """The arguments for one half: a report file named in them gets the half's suffix."""
    own = []
    for arg in args:
        if arg.startswith("--junitxml="):
            arg = f"{arg}.{half}"
        own.append(arg)
    return own


def _basetemp(args: list[str]) -> Path | None:
    for arg in args:
        if arg.startswith("--basetemp="):
            return Path(arg.removeprefix("--basetemp="))
    return None


def _relay(process: subprocess.Popen[str], half: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"[{half}] {line}")
        sys.stdout.flush()


def main(args: list[str]) -> int:
    if os.environ.get("VIGIE_TEST_SESSIONS") == "1" or _names_a_path(args):
        return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT)
    # Each session's own temporary root, outside pytest's shared /tmp/pytest-of-<user>: a
    # session starting there takes group and other access off that directory, and so off the
    # data directory of an embedded PostgreSQL the other session may be creating in it (the
    # server runs as a user of its own when the tests run as root).
    given = _basetemp(args)
    root = given if given is not None else Path(tempfile.mkdtemp(prefix="vigie-tests-"))
    args = [arg for arg in args if not arg.startswith("--basetemp=")]
    running = []
    for half, folders in zip(("1", "2"), halves(), strict=True):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                *_own(args, half),
                f"--basetemp={root / f'half-{half}'}",
                # Each session's own cache: two writing one file would race.
                "-o",
                f"cache_dir=.pytest_cache/half-{half}",
                *folders,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        relay = threading.Thread(target=_relay, args=(process, half), daemon=True)
        relay.start()
        running.append((half, folders, process, relay))
    codes: dict[str, int] = {}
    for half, _, process, relay in running:
        codes[half] = process.wait()
        relay.join()
    for half, folders, _, _ in running:
        print(f"half {half} ({' '.join(folders)}): pytest exit code {codes[half]}")
    if given is None and not any(codes.values()):
        shutil.rmtree(root, ignore_errors=True)
    return max(codes.values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
