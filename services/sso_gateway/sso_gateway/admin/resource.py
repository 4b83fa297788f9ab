"""The admin API as a resource server of its own (RFC 8707 resource indicator, RFC 9068 ``aud``).

Its identifier is ``<issuer>/admin``: a token for it is issued only to a client registered for
that resource (``vigie client add --audience <issuer>/admin``) and only when the authorization
request names it (``resource=``), so the token a platform receives for a person, whatever their
roles, never opens the admin or accounting routes.
"""

from __future__ import annotations


def admin_resource(issuer: str) -> str:
    return issuer.rstrip("/") + "/admin"
