from __future__ import annotations

from dpo_requests.app import create_app
from dpo_requests.config import Settings
from vigie_shared.kit.serve import serve


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
