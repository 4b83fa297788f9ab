"""What the ``vigie`` command-line tests share: running one command against a test's own
database schema and data directory."""

from __future__ import annotations

from pathlib import Path

from vigie_shared.cli import build_parser


def run(argv: list[str], database_url: str, schema: str, data_dir: Path) -> int:
    """Parse and run ``vigie`` ``argv`` on ``schema`` of ``database_url``; its exit code."""
    args = build_parser().parse_args(
        [*argv, "--database-url", database_url, "--schema", schema, "--data-dir", str(data_dir)]
    )
    code: int = args.func(args)
    return code
