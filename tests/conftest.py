import atexit
import os
import shutil
import tempfile

import pytest

# Tansu holds every consumer-group join for half the session timeout, and each service the
# tests start joins a group per consumer: at the services' default (10 s) that is 5 s per start,
# a large part of the suite. A shorter session changes no behaviour under test (a dead consumer's
# partitions only move sooner); the kit's Apache Kafka nodes accept it. Set before any service,
# or `vigie up` child, reads its settings.
os.environ.setdefault("VIGIE_KAFKA_SESSION_TIMEOUT_MS", "4000")

# A service whose consumer groups do not form fails its start naming them, after this long; at
# the default (120 s, the tests' own timeout) the test's timeout came first, and a hang with
# every task's stack was all it said. Below it, the failure names the groups, and the start
# stops what it started.
os.environ.setdefault("VIGIE_KAFKA_GROUP_JOIN_TIMEOUT_SECONDS", "90")

# The developer's own stack is not the tests': `make run` keeps its data dir (its generated secret
# included) under ~/.local/share/vigie, and an admin command run in-process resolves its stack,
# and so its secret, from VIGIE_DATA_DIR. It points at an empty directory of this session, so a
# `make test` after a `make run` sees what a fresh machine sees. (Tests that start `vigie up`
# give theirs explicitly.)
os.environ["VIGIE_DATA_DIR"] = tempfile.mkdtemp(prefix="vigie-tests-data-")

from tests.fixtures.browser import chromium, page
from tests.fixtures.gateway import sso
from tests.fixtures.stack import (
    admin_dsn,
    broker_kind,
    broker_params,
    database_url,
    kafka,
    kafka_cluster,
    module_cluster,
    private_broker,
    schema,
    session_brokers,
)

atexit.register(shutil.rmtree, os.environ["VIGIE_DATA_DIR"], ignore_errors=True)

pytest_plugins = ("tests.fixtures.watchdog",)

__all__ = [
    "admin_dsn",
    "broker_kind",
    "chromium",
    "database_url",
    "kafka",
    "kafka_cluster",
    "module_cluster",
    "page",
    "private_broker",
    "schema",
    "session_brokers",
    "sso",
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``both_brokers`` tests run on Tansu and on Apache Kafka, grouped per module so that each
    module's own fixtures are set up once per broker."""
    if "broker_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_brokers"
    ):
        metafunc.parametrize("broker_kind", broker_params(), indirect=True, scope="module")
