"""Problem details at the edge (RFC 9457) and their place in the OpenAPI document."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from vigie_shared.kit.http import Problem, document_problems, install_problem_handlers

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Thing(BaseModel):
    name: str


def app_with_routes() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    document_problems(app)

    @app.post("/things")
    async def create(thing: Thing) -> Thing:
        if thing.name == "taken":
            raise Problem(409, "Conflict", "name taken", headers={"X-Why": "duplicate"})
        if thing.name == "boom":
            raise RuntimeError("bug")
        return thing

    return app


async def test_errors_are_problem_json_with_their_status() -> None:
    app = app_with_routes()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        conflict = await http.post("/things", json={"name": "taken"})
        invalid = await http.post("/things", json={"nom": 1})
        crash = await http.post("/things", json={"name": "boom"})
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.headers["x-why"] == "duplicate"
    assert conflict.json()["detail"] == "name taken"
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"] == ["body", "name"]
    assert crash.status_code == 500
    assert "bug" not in crash.text  # no internals leak to the caller


async def test_openapi_documents_problem_responses_on_every_operation() -> None:
    schema = app_with_routes().openapi()
    responses = schema["paths"]["/things"]["post"]["responses"]
    assert "200" in responses
    for status in ("401", "403", "409", "422", "500"):
        content = responses[status]["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]


async def test_values_the_database_refuses_are_a_422_not_a_500(database_url: str) -> None:
    import asyncpg

    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/notes")
    async def store(note: dict[str, str]) -> dict[str, str]:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.fetchval("SELECT $1::text", note["text"])
        finally:
            await conn.close()
        return note

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        nul = await http.post("/notes", json={"text": "a\u0000b"})
        surrogate = await http.post(
            "/notes", content=b'{"text": "a\\udbab"}', headers={"content-type": "application/json"}
        )
    assert nul.status_code == 422
    assert surrogate.status_code == 422
    assert surrogate.headers["content-type"] == "application/problem+json"


async def test_input_nested_past_the_recursion_limit_is_a_400_not_a_500() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    def depth(value: object) -> int:
        return 1 + max((depth(v) for v in value), default=0) if isinstance(value, list) else 0

    @app.post("/depth")
    async def measure(body: list[object]) -> dict[str, int]:
        return {"depth": depth(body)}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        shallow = await http.post("/depth", json=[[1], [[2]]])
        too_deep = await http.post(
            "/depth",
            content=b"[" * 900 + b"]" * 900,
            headers={"content-type": "application/json"},
        )
    assert shallow.json() == {"depth": 3}
    assert too_deep.status_code == 400
    assert too_deep.headers["content-type"] == "application/problem+json"


async def test_a_database_that_is_down_is_a_503_with_retry_after() -> None:
    """Seen in the fault suite: with PostgreSQL restarting, reads answered 500."""
    import asyncpg

    from vigie_shared.kit.embedded import free_port

    app = FastAPI()
    install_problem_handlers(app)
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"

    @app.get("/rows")
    async def rows() -> list[int]:
        conn = await asyncpg.connect(closed, timeout=2)
        await conn.close()
        return []

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        down = await http.get("/rows")
    assert down.status_code == 503
    assert down.headers["retry-after"] == "1"
    assert down.headers["content-type"] == "application/problem+json"
    assert down.json()["status"] == 503


async def test_a_client_that_hangs_up_mid_body_is_not_an_unhandled_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_with_routes()
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b'{"na', "more_body": True}
        return {"type": "http.disconnect"}

    messages: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/things",
        "raw_path": b"/things",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    with caplog.at_level("INFO"):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert messages[0]["status"] == 400


async def test_hsts_is_sent_outside_development_only() -> None:
    """RFC 6797: a service in production pins HTTPS; a developer's plain-HTTP 127.0.0.1 is left
    alone (a pinned localhost would break every other local site)."""
    from audit_log.app import create_app
    from audit_log.config import Settings

    async def health(settings: Settings) -> httpx.Response:
        app = create_app(settings)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://svc.test"
        ) as http:
            return await http.get("/healthz")

    production = await health(Settings(env="production", secret_key="p" * 40))
    development = await health(Settings(env="development"))
    assert production.status_code == development.status_code == 200
    assert production.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "strict-transport-security" not in development.headers
