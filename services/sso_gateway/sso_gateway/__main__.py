from __future__ import annotations

from sso_gateway.app import create_app
from sso_gateway.config import Settings
from vigie_shared.kit.serve import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
