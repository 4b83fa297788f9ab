"""The payment portal's texts: every message of its templates and code has its French
translation (the pages are French first)."""

from __future__ import annotations

from vigie_shared.demo.payment.i18n import PACKAGE, catalogues
from vigie_shared.kit.i18n import untranslated


def test_every_message_of_the_templates_and_the_code_has_a_french_translation() -> None:
    assert untranslated(PACKAGE, PACKAGE / "locale" / "babel.cfg", catalogues) == []
