"""Make each test's outcome visible to its fixtures (the stack keeps its logs on failure), and
run the stack's fault test several times in a row on request."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

ROUNDS = int(os.environ.get("VIGIE_FAULT_ROUNDS", "1"))
"""``VIGIE_FAULT_ROUNDS=N`` runs each test of the killed-parts stack N times in a row (ids
``round1``...): a rare interleaving is hunted inside the full suite, where the machine is busy
with the rest of it, which a lone run does not reproduce."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ROUNDS > 1 and "stack" in metafunc.fixturenames:
        metafunc.fixturenames.append("fault_round")
        metafunc.parametrize("fault_round", range(1, ROUNDS + 1), ids=lambda n: f"round{n}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
