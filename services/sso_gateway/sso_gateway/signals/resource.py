"""The Shared Signals API as a resource server (RFC 8707, RFC 9068 ``aud``), and its scopes.

Its identifier is ``<issuer>/ssf``. A receiver gets a token for it with the client credentials
grant and a scope of the OpenID CAEP interoperability profile (``ssf.manage`` to change its
streams, ``ssf.read`` to read them); such a request need not name the resource, since a
client's own token is otherwise meant only for itself.
"""

from __future__ import annotations

MANAGE = "ssf.manage"
READ = "ssf.read"
SCOPES = (MANAGE, READ)


def ssf_resource(issuer: str) -> str:
    return issuer.rstrip("/") + "/ssf"


def asks_for_signals(scope: str) -> bool:
    return any(s in SCOPES for s in scope.split())
