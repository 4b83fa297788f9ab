from tests.fixtures.browser import chromium, page
from tests.fixtures.stack import (
    admin_dsn,
    database_url,
    kafka,
    private_broker,
    schema,
)

__all__ = [
    "admin_dsn",
    "chromium",
    "database_url",
    "kafka",
    "page",
    "private_broker",
    "schema",
]
