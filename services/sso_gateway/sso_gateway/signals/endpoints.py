"""The Shared Signals transmitter's HTTP API: its metadata (SSF 1.0 §7), stream management
(SSF §8), polling (RFC 8936), and the delivery state for the admin API.

Each receiver call carries the receiver's own access token (client credentials) for the SSF
API (``ssf_resource``), with ``ssf.manage`` to change its streams or ``ssf.read`` to read and
poll them; a stream of another receiver answers 404, as a missing one (SSF §8.1.1.2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from sso_gateway.deps import CurrentAdmin, PoolDep, ProviderDep, SettingsDep, token_claims
from sso_gateway.oauth.server import Provider
from sso_gateway.signals.delivery import delivery
from sso_gateway.signals.records import DeliveryState
from sso_gateway.signals.resource import MANAGE, READ, ssf_resource
from sso_gateway.signals.schemas import (
    PollRequest,
    PollResponse,
    StreamConfiguration,
    StreamCreate,
    StreamReplace,
    StreamStatus,
    StreamUpdate,
    SubjectChange,
    VerificationRequest,
    transmitter_metadata,
)
from sso_gateway.signals.service import (
    InvalidStream,
    StreamNotFound,
    TooManyStreams,
    VerificationTooSoon,
    signals,
)
from sso_gateway.signals.sets import POLL
from vigie_shared.kit.http import Problem
from vigie_shared.kit.oidc import admit


class SignalsRoute(APIRoute):
    """A request body or query the schema refuses answers 400, not FastAPI's 422: SSF 1.0
    §8.1.1.1 and the other §8 operations, and RFC 8936 §2.4.1, name 400 for a request the
    transmitter cannot accept, and a receiver written to them expects nothing else."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = [
                    {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
                    for e in exc.errors()
                ]
                raise Problem(
                    400, "Bad Request", "The request does not match the schema.", errors=errors
                ) from exc

        return route


router = APIRouter(tags=["shared signals"], route_class=SignalsRoute)
admin_router = APIRouter(prefix="/admin/signals", tags=["admin"])

RESPONSES: dict[int | str, dict[str, str]] = {
    400: {"description": "Invalid request or stream configuration (SSF §8.1.1.1)"},
    401: {"description": "Missing or invalid access token (RFC 6750 §3.1)"},
    403: {"description": "Not a receiver's token, or insufficient scope"},
    404: {"description": "No such stream for this receiver"},
    429: {"description": "A verification asked before min_verification_interval (SSF §8.1.4.2)"},
}


def receiver_with(*scopes: str) -> Callable[[Request, Provider], Awaitable[str]]:
    """The calling receiver's client id: an access token of its own (client credentials, so
    ``sub`` is the client) for the SSF API, carrying one of ``scopes``."""

    async def receiver(request: Request, provider: ProviderDep) -> str:
        claims = await token_claims(request, provider)
        principal = admit(request, claims, audience=ssf_resource(provider.settings.issuer))
        if principal.client_id is None or principal.subject != principal.client_id:
            raise Problem(
                403, "Forbidden", "A receiver's own token is required.", denial="not_a_receiver"
            )
        if not principal.scopes.intersection(scopes):
            wanted = " ".join(scopes)
            raise Problem(
                403,
                "Forbidden",
                f"One of the scopes {wanted} is required.",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{wanted}"'
                },
                denial="missing_scope",
            )
        return principal.client_id

    return receiver


Manager = Annotated[str, Depends(receiver_with(MANAGE))]
Reader = Annotated[str, Depends(receiver_with(MANAGE, READ))]
StreamIdQuery = Annotated[str, Query(max_length=100)]


@contextlib.contextmanager
def _answers() -> Iterator[None]:
    """The service's refusals as the SSF answers them."""
    try:
        yield
    except StreamNotFound as exc:
        raise Problem(404, "Not Found", "No such stream.") from exc
    except InvalidStream as exc:
        raise Problem(400, "Bad Request", str(exc)) from exc
    except TooManyStreams as exc:
        raise Problem(409, "Conflict", "This receiver has as many streams as it may.") from exc
    except VerificationTooSoon as exc:
        raise Problem(
            429,
            "Too Many Requests",
            "A verification event was asked for too recently (min_verification_interval).",
            headers={"Retry-After": str(exc.args[0])},
        ) from exc


@router.get("/.well-known/ssf-configuration", summary="Transmitter metadata (SSF §7)")
async def metadata(settings: SettingsDep) -> dict[str, object]:
    return transmitter_metadata(settings.issuer)


@router.post(
    "/ssf/stream", status_code=201, summary="Create a stream (SSF §8.1.1.1)", responses=RESPONSES
)
async def create_stream(
    data: StreamCreate, pool: PoolDep, settings: SettingsDep, client_id: Manager
) -> StreamConfiguration:
    with _answers():
        async with pool.acquire() as conn:
            return await signals.create(conn, settings, client_id, data)


@router.get(
    "/ssf/stream",
    summary="Read a stream, or all the receiver's (SSF §8.1.1.2)",
    responses=RESPONSES,
)
async def read_stream(
    pool: PoolDep,
    settings: SettingsDep,
    client_id: Reader,
    stream_id: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamConfiguration | list[StreamConfiguration]:
    with _answers():
        async with pool.acquire() as conn:
            if stream_id is None:
                return await signals.streams(conn, settings, client_id)
            return signals.configuration(settings, await signals.get(conn, client_id, stream_id))


@router.patch("/ssf/stream", summary="Update a stream (SSF §8.1.1.3)", responses=RESPONSES)
async def update_stream(
    data: StreamUpdate, pool: PoolDep, settings: SettingsDep, client_id: Manager
) -> StreamConfiguration:
    with _answers():
        async with pool.acquire() as conn:
            return await signals.update(conn, settings, client_id, data)


@router.put("/ssf/stream", summary="Replace a stream (SSF §8.1.1.4)", responses=RESPONSES)
async def replace_stream(
    data: StreamReplace, pool: PoolDep, settings: SettingsDep, client_id: Manager
) -> StreamConfiguration:
    with _answers():
        async with pool.acquire() as conn:
            return await signals.replace(conn, settings, client_id, data.stream_id, data)


@router.delete(
    "/ssf/stream", status_code=204, summary="Delete a stream (SSF §8.1.1.5)", responses=RESPONSES
)
async def delete_stream(stream_id: StreamIdQuery, pool: PoolDep, client_id: Manager) -> Response:
    with _answers():
        async with pool.acquire() as conn:
            await signals.delete(conn, client_id, stream_id)
    return Response(status_code=204)


@router.get("/ssf/status", summary="A stream's status (SSF §8.1.2.1)", responses=RESPONSES)
async def read_status(stream_id: StreamIdQuery, pool: PoolDep, client_id: Reader) -> StreamStatus:
    with _answers():
        async with pool.acquire() as conn:
            return await signals.status(conn, client_id, stream_id)


@router.post("/ssf/status", summary="Change a stream's status (SSF §8.1.2.2)", responses=RESPONSES)
async def update_status(data: StreamStatus, pool: PoolDep, client_id: Manager) -> StreamStatus:
    with _answers():
        async with pool.acquire() as conn:
            return await signals.set_status(conn, client_id, data)


async def _change_subject(
    data: SubjectChange, pool: PoolDep, settings: SettingsDep, client_id: str, *, add: bool
) -> None:
    with _answers():
        async with pool.acquire() as conn:
            await signals.change_subject(
                conn, settings, client_id, data.stream_id, data.subject, add=add
            )


@router.post("/ssf/subjects:add", summary="Add a subject (SSF §8.1.3.2)", responses=RESPONSES)
async def add_subject(
    data: SubjectChange, pool: PoolDep, settings: SettingsDep, client_id: Manager
) -> Response:
    await _change_subject(data, pool, settings, client_id, add=True)
    return Response(status_code=200)


@router.post(
    "/ssf/subjects:remove",
    status_code=204,
    summary="Remove a subject (SSF §8.1.3.3)",
    responses=RESPONSES,
)
async def remove_subject(
    data: SubjectChange, pool: PoolDep, settings: SettingsDep, client_id: Manager
) -> Response:
    await _change_subject(data, pool, settings, client_id, add=False)
    return Response(status_code=204)


@router.post(
    "/ssf/verify",
    status_code=204,
    summary="Ask for a verification event (SSF §8.1.4.2)",
    responses=RESPONSES,
)
async def verify(
    data: VerificationRequest, pool: PoolDep, settings: SettingsDep, client_id: Manager
) -> Response:
    with _answers():
        async with pool.acquire() as conn:
            await signals.verify(conn, settings, client_id, data.stream_id, data.state)
    return Response(status_code=204)


@router.post(
    "/ssf/poll/{stream_id}",
    summary="Poll a stream's SETs and acknowledge them (RFC 8936 §2.4)",
    responses=RESPONSES,
)
async def poll(
    stream_id: Annotated[str, Path(max_length=100)],
    data: PollRequest,
    provider: ProviderDep,
    client_id: Reader,
) -> PollResponse:
    with _answers():
        async with provider.pool.acquire() as conn:
            stream = await signals.get(conn, client_id, stream_id)
    if stream.delivery_method != POLL:
        # Its SETs go to the receiver's endpoint: an acknowledgement here would race the pushes.
        raise Problem(400, "Bad Request", "This stream is delivered by push, not polled.")
    return await delivery.poll(provider.pool, provider.keyring, provider.settings, stream, data)


@admin_router.get("/streams", summary="Every stream's delivery state")
async def delivery_states(pool: PoolDep, _: CurrentAdmin) -> list[DeliveryState]:
    async with pool.acquire() as conn:
        return await delivery.states(conn)
