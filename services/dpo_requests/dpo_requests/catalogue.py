"""The service's one gettext catalogue: its pages, its e-mails and its deadline explanations.

Messages are written in English; ``web/locale/fr/LC_MESSAGES/dpo_requests.po`` translates them
(how to extract and update it: ``web/locale/README.md``). The kit compiles the ``.po`` in memory
at first use (``vigie_shared.kit.i18n.Catalogues``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from vigie_shared.kit.i18n import Catalogues

LANGS: Final = ("fr", "en")
"""French first: the institution writes in French; many learners abroad read English."""

LOCALE_DIR: Final = Path(__file__).parent / "web" / "locale"

catalogues = Catalogues(LOCALE_DIR, "dpo_requests", LANGS)
