"""Every ``vigie`` help text reads as plain text: reStructuredText's double backquotes belong in
docstrings, not on a terminal, and the pointer to the architecture names a file that exists."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from vigie_shared.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def every_parser(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from every_parser(child)


def test_no_help_text_shows_double_backquotes_or_a_missing_architecture_file() -> None:
    helps = {p.prog: p.format_help() for p in every_parser(build_parser())}
    # The walk reaches the services' commands too (entry points), down to the leaves.
    assert {"vigie up", "vigie user add", "vigie audit verify", "vigie simulate billing"} <= set(
        helps
    )
    assert [prog for prog, text in helps.items() if "``" in text] == []
    assert [prog for prog, text in helps.items() if "ARCHITECTURE.md" in text] == []
    assert "docs/architecture.md" in helps["vigie"]
    assert (ROOT / "docs" / "architecture.md").is_file()
