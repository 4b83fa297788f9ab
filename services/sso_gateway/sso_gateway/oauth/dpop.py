"""DPoP (RFC 9449) at the gateway: what the token and UserInfo endpoints add to the kit's proof
check (``kit.dpop``): each proof used once across both replicas (PostgreSQL), and server
nonces (§8) that either replica accepts, since they are a MAC of a time slot under the
service secret and nothing is stored for them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from authlib.oauth2 import OAuth2Error

from sso_gateway.config import Settings
from sso_gateway.oauth.access_tokens import GroupCommit
from sso_gateway.oauth.repository import grant_repository
from sso_gateway.oauth.requests import Request
from vigie_shared.kit import dpop
from vigie_shared.kit.dpop import InvalidProof, NonceRequired, Proof
from vigie_shared.kit.secrets import (
    InvalidToken,
    derive_key,
    keyed_hash,
    same,
    sign_value,
    signed_value,
)

PROOF = "dpop-proof"
"""Where the token request's verified proof is kept (``Request.loaded``): checked, and its
jti recorded, on the loop before Authlib runs, like the other things a grant reads."""

_NONCE_PURPOSE = "vigie sso dpop nonce"
_REPLAY_PURPOSE = "vigie sso dpop proofs"


class InvalidDPoPProofError(OAuth2Error):
    """RFC 9449 §5: a token request whose proof is missing where it is required, or does not
    fit the grant (a refresh token bound to another key)."""

    error = "invalid_dpop_proof"
    status_code = 400


def proof_of(request: Request) -> Proof | None:
    """The token request's verified proof, None when it came without one."""
    proof: Proof | None = request.loaded.get(PROOF)
    return proof


def _slot(settings: Settings, now: float) -> int:
    return int(now // settings.dpop_proof_max_age_seconds)


def current_nonce(settings: Settings, now: float | None = None) -> str:
    """The nonce of this time slot (RFC 9449 §8): the slot, signed with a key derived for this
    purpose from the service secret, so both replicas make and accept the same ones."""
    slot = _slot(settings, time.time() if now is None else now)
    return sign_value(settings.secret_key, _NONCE_PURPOSE, str(slot))


def check_nonce(settings: Settings, nonce: str | None, now: float | None = None) -> None:
    """A nonce of this slot or the one before (a nonce handed out just before the slot turned
    stays good for a slot more), else ``use_dpop_nonce`` (§8)."""
    if nonce is None:
        raise NonceRequired("A DPoP nonce from this server is required.")
    current = _slot(settings, time.time() if now is None else now)
    try:
        slot = signed_value(settings.secret_key, _NONCE_PURPOSE, nonce)
    except InvalidToken as exc:
        raise NonceRequired("The DPoP nonce is not one of this server's.") from exc
    if slot not in (str(current), str(current - 1)):
        raise NonceRequired("The DPoP nonce is stale.")


def fresh_nonce(settings: Settings, proof: Proof | None) -> str | None:
    """§8.2: a new nonce for the client's next proof once the slot has turned (its proof
    carried the previous one); None while the one it sent is current."""
    if not settings.dpop_require_nonce or proof is None:
        return None
    nonce = current_nonce(settings)
    return None if same(proof.nonce, nonce) else nonce


class ProofWriter(GroupCommit[tuple[str, datetime], bool]):
    """§11.1: the proofs accepted, recorded with those of concurrent requests in one statement
    (``GroupCommit``), each request told whether its proof was new."""

    TASK_NAME = "sso-dpop-proof-writer"

    async def first_use(self, settings: Settings, proof: Proof) -> bool:
        """Whether this (key, jti) is new, recording it. Kept until no proof with that iat
        could be accepted (``iat`` + the window); the key is a keyed hash, so a jti of any
        length or content makes a row of one size."""
        key = derive_key(settings.secret_key, _REPLAY_PURPOSE)
        proof_hash = keyed_hash(key, f"{proof.jkt}.{proof.jti}")
        expires_at = datetime.fromtimestamp(proof.iat, UTC) + timedelta(
            seconds=settings.dpop_proof_max_age_seconds
        )
        return await self.write((proof_hash, expires_at))

    async def _insert(self, pool: asyncpg.Pool, rows: Sequence[tuple[str, datetime]]) -> list[bool]:
        async with pool.acquire() as conn:
            inserted = await grant_repository.insert_dpop_proofs(conn, rows)
        # One proof sent twice within a batch is inserted once: its first request wins.
        seen: set[str] = set()
        results = []
        for proof_hash, _ in rows:
            results.append(proof_hash in inserted and proof_hash not in seen)
            seen.add(proof_hash)
        return results


async def verify(
    proofs: ProofWriter,
    settings: Settings,
    headers: Mapping[str, str],
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    require_nonce: bool = False,
) -> Proof | None:
    """The request's proof, checked (``kit.dpop.verify_proof``) and recorded as used (with
    the proofs of concurrent requests); None without one, and then no round trip.
    :class:`InvalidProof` when refused."""
    value = dpop.proof_header(headers)
    if value is None:
        return None
    proof = dpop.verify_proof(
        value,
        method=method,
        url=url,
        max_age=settings.dpop_proof_max_age_seconds,
        access_token=access_token,
        nonce=(lambda nonce: check_nonce(settings, nonce)) if require_nonce else None,
    )
    if not await proofs.first_use(settings, proof):
        raise InvalidProof("The DPoP proof was already used.")
    return proof


async def token_request_proof(
    proofs: ProofWriter, settings: Settings, request: Request
) -> Proof | None:
    """§5: the token request's proof, for a POST to the token endpoint (its URL as clients
    see it: ``request.uri`` is built on the issuer), a nonce in it when the server asks."""
    return await verify(
        proofs,
        settings,
        request.headers,
        method="POST",
        url=request.uri,
        require_nonce=settings.dpop_require_nonce,
    )


def token_error(
    settings: Settings, refused: InvalidProof
) -> tuple[int, Any, list[tuple[str, str]]]:
    """§5 and §8: the token endpoint's answer to a refused proof, RFC 6749 §5.2 style, with a
    nonce to use when that was what it lacked."""
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    if isinstance(refused, NonceRequired):
        headers.append((dpop.NONCE_HEADER, current_nonce(settings)))
    return 400, {"error": refused.error, "error_description": str(refused)}, headers


async def purge(pool: asyncpg.Pool) -> int:
    """Delete the proofs past their window (a periodic job): the table stays bounded."""
    async with pool.acquire() as conn:
        return await grant_repository.delete_expired_dpop_proofs(conn)
