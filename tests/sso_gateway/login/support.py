"""What the tests of the pages' language share: the words of a text, and the words that only
one language of the gettext catalogue uses (a page in one language shows none of the other's)."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from sso_gateway.login.pages import catalogues

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}


def only_in(lang: str) -> set[str]:
    """Words the catalogue uses in ``lang`` that no text of the other language uses."""
    french: set[str] = set()
    english: set[str] = set()
    with catalogues.po_path("fr").open("rb") as po:
        for message in read_po(po):
            if message.id and isinstance(message.id, str):
                english |= words(message.id)
                french |= words(str(message.string))
    return french - english if lang == "fr" else english - french


FRENCH_ONLY = only_in("fr")
ENGLISH_ONLY = only_in("en")
