"""Response headers every Vigie answer carries (OWASP Secure Headers Project). A header the
app set itself is kept: a page may have a policy of its own.

- ``Content-Security-Policy``: nothing may frame us (``frame-ancestors 'none'``, CSP Level 2
  §7.7, against clickjacking), and a page loads only what comes from its own origin. The
  interactive API docs load Swagger UI from a CDN: they get the framing rule only.
- ``X-Content-Type-Options: nosniff``: a JSON answer is never run as a script or a page.
- ``Referrer-Policy: no-referrer``: URLs (request ids, link tokens) never leak to other sites.
- ``Cache-Control: no-store`` unless the app chose otherwise: answers hold personal data or
  credentials (RFC 9111 §5.2.2.5; RFC 6749 §5.1 asks it of token responses, with ``Pragma:
  no-cache`` for HTTP/1.0 caches).
- ``Strict-Transport-Security`` outside development (RFC 6797): once a browser has seen the
  service over HTTPS it never sends a cookie or a password to it over plain HTTP again. Not on
  a developer's machine, which serves plain HTTP on 127.0.0.1.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_POLICY = "frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")

_COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


HSTS = b"max-age=31536000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self._extra: tuple[tuple[bytes, bytes], ...] = (
            ((b"strict-transport-security", HSTS),) if hsts else ()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = DOCS_POLICY if path.startswith(DOCS_PATHS) else PAGE_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                wanted = [
                    *_COMMON,
                    *self._extra,
                    (b"content-security-policy", policy.encode()),
                    (b"cache-control", b"no-store"),
                ]
                headers += [(name, value) for name, value in wanted if name not in present]
                no_store = any(
                    n.lower() == b"cache-control" and b"no-store" in v.lower() for n, v in headers
                )
                if no_store and b"pragma" not in present:
                    headers.append((b"pragma", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
