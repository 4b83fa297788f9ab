from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from tests.dpo_requests.support import Dpo, running_dpo
from vigie_shared.kit.embedded import EmbeddedBroker, free_port


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A broker for one test module: data systems announced elsewhere never join its fan-out."""
    log_file = Path(tmp_path_factory.mktemp("dpo-broker")) / "broker.log"
    broker = EmbeddedBroker(port=free_port(), log_file=log_file).start()
    yield broker
    broker.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def module_schema(database_url: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dpo(
    database_url: str, module_schema: str, module_broker: EmbeddedBroker
) -> AsyncIterator[Dpo]:
    """dpo_requests running for a whole test module (starting it costs seconds: the consumer
    group join); tests keep apart by using subjects and requests of their own."""
    async with running_dpo(database_url, module_schema, module_broker.bootstrap) as service:
        yield service
