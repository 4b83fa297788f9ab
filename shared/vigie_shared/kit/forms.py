"""Browser form posts: reading an ``application/x-www-form-urlencoded`` body strictly, and
refusing a post that another site's page sent.

One home for both, used by every form endpoint (the gateway's login, token, revocation,
introspection and logout endpoints; the DPO pages)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from fastapi import Request

from vigie_shared.kit.http import Problem


async def read_form(request: Request) -> list[tuple[str, str]]:
    """The body's fields, in order, repeats kept (RFC 6749 §3.1 refuses repeated parameters:
    the caller needs to see them). A body that is not UTF-8, raw or percent-encoded, is the
    client's error (WHATWG URL, application/x-www-form-urlencoded parsing uses UTF-8), not a
    server failure: 400."""
    body = await request.body()
    try:
        return parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise Problem(400, "Bad Request", "The form is not valid UTF-8.") from None


def first_values(fields: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in fields:
        found.setdefault(name, value)
    return found


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request, public_url: str) -> bool:
    """Whether a form post may have come from our own page. Browsers send ``Origin`` with every
    POST (Fetch standard; RFC 6454 §7): one naming another site, or ``null`` (a sandboxed or
    privacy-hiding context), is refused even with a valid CSRF token (OWASP CSRF Prevention
    Cheat Sheet, "Verifying Origin With Standard Headers"). A client that sends no Origin at
    all (not a browser) is left to the CSRF token."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.lower() == _origin_of(public_url)
