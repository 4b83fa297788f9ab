from tests.fixtures.stack import (
    admin_dsn,
    database_url,
    kafka,
    private_broker,
    schema,
)

__all__ = ["admin_dsn", "database_url", "kafka", "private_broker", "schema"]
