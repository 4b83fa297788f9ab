"""The service's one catalogue translates every message of the package (pages, e-mails, deadline
explanations), as its babel.cfg extracts them from the package folder; the one request-type
table names every right the events know."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

import dpo_requests
from dpo_requests.catalogue import catalogues
from dpo_requests.request_types import REQUEST_TYPES
from vigie_shared.events import RequestType
from vigie_shared.kit.i18n import untranslated

PACKAGE = Path(dpo_requests.__file__).parent


BABEL_CFG = PACKAGE / "web" / "locale" / "babel.cfg"


def test_every_message_of_the_package_has_its_french() -> None:
    assert untranslated(PACKAGE, BABEL_CFG, catalogues) == []


def test_the_mail_templates_and_the_deadline_texts_are_extracted() -> None:
    # An extraction that missed them would leave the check above vacuous for them.
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    files = {
        filename
        for filename, *_ in extract_from_dir(
            PACKAGE, method_map, options_map, keywords=DEFAULT_KEYWORDS
        )
    }
    assert "notifications/templates/one_time_code.txt" in files
    assert "notifications/templates/acknowledgement.txt" in files
    assert "deadlines/texts.py" in files


def test_the_table_names_every_right_in_both_languages() -> None:
    assert set(REQUEST_TYPES) == set(RequestType)
    for right in REQUEST_TYPES.values():
        for wording in (right.fr, right.en):
            assert wording.label
            assert wording.description
            assert wording.mail_phrase
