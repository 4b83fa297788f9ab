from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from sso_gateway.oauth.server import Provider


def provider_of(request: Request) -> Provider:
    provider: Provider = request.app.state.provider
    return provider
