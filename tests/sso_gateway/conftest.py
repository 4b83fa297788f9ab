"""The gateway on the real PostgreSQL and broker, driven over HTTP in-process: the session's
``sso`` (``tests.fixtures.gateway``), and the helpers that drive it in ``support``."""
