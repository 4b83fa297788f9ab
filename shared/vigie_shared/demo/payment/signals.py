"""The portal as a Shared Signals receiver (OpenID SSF 1.0) of the gateway: at start-up it
registers a poll stream (RFC 8936: the demo portal has no public URL for the gateway to push
to) with its own client's token (client credentials, scopes ``ssf.manage ssf.read``), then
polls it, checks each SET's signature against the gateway's published JWKS (joserfc) and its
claims (RFC 8417 §2.2, SSF §4), and ends the local sessions a SET names:

- CAEP ``session-revoked``: the portal session opened by that gateway session (``sid``);
- RISC ``account-disabled``: every portal session of the account opened before the event. A
  login after it is let in: the portal is where a suspended learner pays.

The ended sessions are kept in memory: the portal has no database, and its sessions last
``session_minutes`` at most. A SET is acknowledged only once acted on, so a poll whose answer
is lost costs nothing; one that fails its checks is reported (``setErrs``, RFC 8936 §2.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from vigie_shared.kit.backoff import Backoff

log = logging.getLogger(__name__)

SCOPE = "ssf.manage ssf.read"
POLL = "urn:ietf:rfc:8936"
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
ACCOUNT_DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
EVENTS = [SESSION_REVOKED, ACCOUNT_DISABLED]
DESCRIPTION = "Paiement en ligne (démonstration)"
SET_TYPE = "secevent+jwt"
ALGORITHMS = ["ES256", "RS256"]
MAX_EVENTS = 100


@dataclass
class Revocations:
    """The portal sessions the gateway ended: by gateway session, and by account up to a time."""

    sessions: set[str] = field(default_factory=set)
    accounts: dict[str, float] = field(default_factory=dict)

    def ended(self, subject: str, sid: str | None, opened_at: int) -> bool:
        """``opened_at`` in whole seconds, as ``event_timestamp`` (RFC 8417 §2.2 NumericDate):
        a login in the very second of a suspension is kept, since the learner may have come
        to pay (the portal stays open to the suspended)."""
        return (sid is not None and sid in self.sessions) or (
            opened_at < self.accounts.get(subject, float("-inf"))
        )


class InvalidSet(Exception):
    """A SET this receiver refuses (RFC 8936 §2.4 ``err`` code in ``args[0]``)."""


class SignalReceiver:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        revocations: Revocations,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.revocations = revocations
        self._http = http or httpx.AsyncClient(timeout=30.0)
        self._token: str | None = None
        self._keys: KeySet | None = None
        self._metadata: dict[str, Any] = {}
        self.stream: dict[str, Any] | None = None
        self.ready = asyncio.Event()
        """Set once the stream is registered."""
        self._task: asyncio.Task[None] | None = None

    @property
    def configured(self) -> bool:
        return bool(self._client_secret)

    async def start(self) -> None:
        """Registers and polls in the background: the portal starts even while the gateway
        is not up yet, and its stream is registered once it is."""
        if self.configured:
            self._task = asyncio.create_task(self._run(), name="payment-signals")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()

    async def _run(self) -> None:
        backoff, failures = Backoff(base=1.0, cap=30.0), 0
        while True:
            try:
                if self.stream is None:
                    self.stream = await self.register()
                    self.ready.set()
                await self.poll_once()
                failures = 0
            except httpx.TransportError as exc:
                # The portal may start before the gateway answers (as under `vigie up`): one
                # line per try until it does, not a traceback.
                failures += 1
                log.warning("payment signals: gateway not reachable yet (%s); retrying", exc)
                await backoff.sleep(failures)
            except (httpx.HTTPError, ValueError, KeyError):
                failures += 1
                log.warning("payment signals: gateway refusing", exc_info=True)
                await backoff.sleep(failures)

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An SSF API call with the client's token, fetched again once if it has expired."""
        for attempt in (1, 2):
            if self._token is None:
                self._token = await self._fetch_token()
            response = await self._http.request(
                method, url, headers={"Authorization": f"Bearer {self._token}"}, **kwargs
            )
            if response.status_code != 401 or attempt == 2:
                response.raise_for_status()
                return response
            self._token = None
        raise AssertionError("unreachable")

    async def _fetch_token(self) -> str:
        discovery = await self._http.get(f"{self._issuer}/.well-known/openid-configuration")
        discovery.raise_for_status()
        answer = await self._http.post(
            discovery.json()["token_endpoint"],
            data={"grant_type": "client_credentials", "scope": SCOPE},
            auth=httpx.BasicAuth(self._client_id, self._client_secret or ""),
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token

    async def register(self) -> dict[str, Any]:
        """The portal's poll stream: the one it registered at an earlier start, else a new one
        (SSF §8.1.1), so restarts do not pile streams up."""
        metadata = await self._http.get(f"{self._issuer}/.well-known/ssf-configuration")
        metadata.raise_for_status()
        self._metadata = metadata.json()
        endpoint = self._metadata["configuration_endpoint"]
        existing = (await self._call("GET", endpoint)).json()
        for stream in existing if isinstance(existing, list) else [existing]:
            if stream["delivery"]["method"] == POLL and stream.get("description") == DESCRIPTION:
                found: dict[str, Any] = stream
                return found
        created: dict[str, Any] = (
            await self._call(
                "POST",
                endpoint,
                json={
                    "events_requested": EVENTS,
                    "delivery": {"method": POLL},
                    "description": DESCRIPTION,
                },
            )
        ).json()
        return created

    async def poll_once(self, *, return_immediately: bool = False) -> int:
        """One poll (RFC 8936 §2.4): acts on what arrived, then acknowledges it in a poll that
        asks for nothing more; how many SETs were acted on."""
        assert self.stream is not None
        url = self.stream["delivery"]["endpoint_url"]
        answer = (
            await self._call(
                "POST",
                url,
                json={"maxEvents": MAX_EVENTS, "returnImmediately": return_immediately},
            )
        ).json()
        acks: list[str] = []
        errors: dict[str, dict[str, str]] = {}
        for jti, token in answer.get("sets", {}).items():
            try:
                claims = await self.verify(token)
                try:
                    self.act(claims)
                except (AttributeError, KeyError, TypeError, ValueError) as exc:
                    raise InvalidSet(
                        "invalid_request", "an event this receiver cannot read"
                    ) from exc
                acks.append(jti)
            except InvalidSet as exc:
                errors[jti] = {"err": exc.args[0], "description": exc.args[1]}
        if acks or errors:
            await self._call(
                "POST",
                url,
                json={"ack": acks, "setErrs": errors, "maxEvents": 0, "returnImmediately": True},
            )
        return len(acks)

    async def _key_set(self, *, fresh: bool) -> KeySet:
        if self._keys is None or fresh:
            jwks = await self._http.get(self._metadata.get("jwks_uri", f"{self._issuer}/jwks"))
            jwks.raise_for_status()
            self._keys = KeySet.import_key_set(jwks.json())
        return self._keys

    async def verify(self, token: str) -> dict[str, Any]:
        """Signature against the gateway's JWKS (fetched again once for a key it has just
        published), explicit type (RFC 8417 §2.3), issuer and audience (SSF §4)."""
        try:
            try:
                decoded = jwt.decode(token, await self._key_set(fresh=False), algorithms=ALGORITHMS)
            except (JoseError, ValueError):
                decoded = jwt.decode(token, await self._key_set(fresh=True), algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise InvalidSet("invalid_key", "signature not verified") from exc
        if decoded.header.get("typ") != SET_TYPE:
            raise InvalidSet("invalid_request", "not a secevent+jwt")
        try:
            JWTClaimsRegistry(
                iss={"essential": True, "value": self._issuer},
                aud={"essential": True, "value": self._client_id},
                jti={"essential": True},
                iat={"essential": True},
            ).validate(decoded.claims)
        except JoseError as exc:
            raise InvalidSet(
                "invalid_issuer" if "iss" in str(exc) else "invalid_audience", str(exc)
            ) from exc
        claims: dict[str, Any] = dict(decoded.claims)
        if not isinstance(claims.get("events"), dict) or not isinstance(claims.get("sub_id"), dict):
            raise InvalidSet("invalid_request", "no events or sub_id")
        return claims

    def act(self, claims: dict[str, Any]) -> None:
        sub_id = claims["sub_id"]
        user = sub_id.get("user", sub_id) if sub_id.get("format") == "complex" else sub_id
        subject = user.get("sub") if user.get("format") == "iss_sub" else user.get("id")
        for event_type, payload in claims["events"].items():
            if event_type == SESSION_REVOKED and "session" in sub_id:
                self.revocations.sessions.add(str(sub_id["session"]["id"]))
            elif event_type == ACCOUNT_DISABLED and subject:
                at = float(payload.get("event_timestamp", claims["iat"]))
                self.revocations.accounts[str(subject)] = max(
                    at, self.revocations.accounts.get(str(subject), at)
                )
                log.info("payment signals: sessions of %s ended (account disabled)", subject)
