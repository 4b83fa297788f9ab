"""Every step of a deadline's explanation, each branch of each text (one holiday or several
days skipped, singular and plural counts, a receipt whose Paris date differs from its
timestamp's), with the default dates and with each language's own writer: the exact French and
English, as they were written before the texts moved to the catalogue."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from dpo_requests.deadlines import texts
from dpo_requests.deadlines.civil_calendar import PublicHoliday
from vigie_shared.kit.i18n import format_date

HOLIDAY = PublicHoliday(date(2026, 5, 1), "Fête du Travail", "Labour Day")
PARIS = ZoneInfo("Europe/Paris")


def every_text() -> dict[str, texts.Texts]:
    c: dict[str, texts.Texts] = {}
    c["non_working_day"] = texts.non_working_day(date(2026, 5, 2), None)
    c["non_working_day_holiday"] = texts.non_working_day(date(2026, 5, 1), HOLIDAY)
    c["receipt_date"] = texts.receipt(date(2026, 1, 31), date(2026, 1, 31))
    c["receipt_same_day"] = texts.receipt(
        datetime(2026, 1, 31, 10, 0, tzinfo=PARIS), date(2026, 1, 31)
    )
    c["receipt_other_day"] = texts.receipt(
        datetime(2026, 1, 31, 23, 30, tzinfo=UTC), date(2026, 2, 1)
    )
    c["extension"] = texts.extension(date(2026, 2, 10))
    for m in (1, 3):
        c[f"last_day_of_month_{m}"] = texts.last_day_of_month(m, date(2026, 2, 28))
        c[f"same_day_number_{m}"] = texts.same_day_number(m, date(2026, 4, 30))
    c["working_day"] = texts.working_day(date(2026, 3, 2))
    one = [texts.non_working_day(date(2026, 5, 1), HOLIDAY)]
    many = [
        *one,
        texts.non_working_day(date(2026, 5, 2), None),
        texts.non_working_day(date(2026, 5, 3), None),
    ]
    c["next_working_day_one"] = texts.next_working_day(one, date(2026, 5, 4))
    c["next_working_day_many"] = texts.next_working_day(many, date(2026, 5, 4))
    for d in (-2, -1, 0, 1, 2, 1000000):
        c[f"suspension_{d}"] = texts.suspension(
            date(2026, 2, 2), date(2026, 2, 5), d, date(2026, 3, 3)
        )
        c[f"clock_stopped_{d}"] = texts.clock_stopped(date(2026, 2, 2), d)
    c["explanation"] = texts.explanation([c["receipt_date"], c["extension"], c["working_day"]])
    c["explanation_one"] = texts.explanation([c["receipt_date"]])
    return c


def test_every_text_is_as_written_with_the_default_dates() -> None:
    assert every_text() == PLAIN


def test_every_text_is_as_written_with_each_languages_dates() -> None:
    with texts.dates_written_by(lambda d: format_date(d, "fr"), lambda d: format_date(d, "en")):
        assert every_text() == LOCALE


PLAIN: Final = {
    "non_working_day": ("samedi 02/05/2026", "Saturday 02/05/2026"),
    "non_working_day_holiday": (
        "vendredi 01/05/2026 (Fête du Travail)",
        "Friday 01/05/2026 (Labour Day)",
    ),
    "receipt_date": ("Réception le 31/01/2026", "Received on 31/01/2026"),
    "receipt_same_day": ("Réception le 31/01/2026", "Received on 31/01/2026"),
    "receipt_other_day": (
        "Réception le 31/01/2026 à 23:30 UTC, soit le 01/02/2026 à Paris",
        "Received on 31/01/2026 at 23:30 UTC, i.e. 01/02/2026 in Paris",
    ),
    "extension": (
        "prolongation de deux mois décidée le 10/02/2026 (art. 12(3) RGPD), soit trois "
        "mois à compter de la réception",
        "two-month extension decided on 10/02/2026 (GDPR Art. 12(3)), i.e. three months "
        "from receipt",
    ),
    "last_day_of_month_1": (
        "un mois → 28/02/2026 (dernier jour du mois, art. 3(2)(c) du règlement 1182/71)",
        "one month → 28/02/2026 (last day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "same_day_number_1": (
        "un mois → 30/04/2026 (même quantième, art. 3(2)(c) du règlement 1182/71)",
        "one month → 30/04/2026 (same day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "last_day_of_month_3": (
        "trois mois → 28/02/2026 (dernier jour du mois, art. 3(2)(c) du règlement 1182/71)",
        "three months → 28/02/2026 (last day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "same_day_number_3": (
        "trois mois → 30/04/2026 (même quantième, art. 3(2)(c) du règlement 1182/71)",
        "three months → 30/04/2026 (same day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "working_day": ("lundi ouvré", "Monday, a working day"),
    "next_working_day_one": (
        "vendredi 01/05/2026 (Fête du Travail) non ouvré → lundi 04/05/2026 "
        "(jour ouvré suivant, art. 3(4) du règlement 1182/71)",
        "Friday 01/05/2026 (Labour Day) is not a working day → Monday "
        "04/05/2026 (next working day, Art. 3(4) of Regulation 1182/71)",
    ),
    "next_working_day_many": (
        "vendredi 01/05/2026 (Fête du Travail), samedi 02/05/2026, dimanche "
        "03/05/2026 non ouvrés → lundi 04/05/2026 (jour ouvré suivant, art. "
        "3(4) du règlement 1182/71)",
        "Friday 01/05/2026 (Labour Day), Saturday 02/05/2026, Sunday "
        "03/05/2026 are not working days → Monday 04/05/2026 (next working "
        "day, Art. 3(4) of Regulation 1182/71)",
    ),
    "suspension_-2": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations "
        "(-2 jours, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from 02/02/2026 to 05/02/2026 awaiting information (-2 days, "
        "GDPR Art. 12(6)) → 03/03/2026",
    ),
    "clock_stopped_-2": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : -2 jours restant, décompte gelé",
        "clock stopped since 02/02/2026 awaiting information (GDPR Art. 12(6)): "
        "-2 days left, frozen",
    ),
    "suspension_-1": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations "
        "(-1 jour, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from 02/02/2026 to 05/02/2026 awaiting information (-1 day, "
        "GDPR Art. 12(6)) → 03/03/2026",
    ),
    "clock_stopped_-1": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : -1 jour restant, décompte gelé",
        "clock stopped since 02/02/2026 awaiting information (GDPR Art. 12(6)): "
        "-1 day left, frozen",
    ),
    "suspension_0": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations (0 "
        "jour, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from 02/02/2026 to 05/02/2026 awaiting information (0 days, "
        "GDPR Art. 12(6)) → 03/03/2026",
    ),
    "clock_stopped_0": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : 0 jour restant, décompte gelé",
        "clock stopped since 02/02/2026 awaiting information (GDPR Art. 12(6)): 0 "
        "days left, frozen",
    ),
    "suspension_1": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations (1 "
        "jour, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from 02/02/2026 to 05/02/2026 awaiting information (1 day, "
        "GDPR Art. 12(6)) → 03/03/2026",
    ),
    "clock_stopped_1": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : 1 jour restant, décompte gelé",
        "clock stopped since 02/02/2026 awaiting information (GDPR Art. 12(6)): 1 day left, frozen",
    ),
    "suspension_2": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations (2 "
        "jours, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from 02/02/2026 to 05/02/2026 awaiting information (2 days, "
        "GDPR Art. 12(6)) → 03/03/2026",
    ),
    "clock_stopped_2": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : 2 jours restants, décompte gelé",
        "clock stopped since 02/02/2026 awaiting information (GDPR Art. 12(6)): 2 "
        "days left, frozen",
    ),
    "suspension_1000000": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente "
        "d'informations (1000000 jours, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from 02/02/2026 to 05/02/2026 awaiting information "
        "(1000000 days, GDPR Art. 12(6)) → 03/03/2026",
    ),
    "clock_stopped_1000000": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations "
        "(art. 12(6) RGPD) : 1000000 jours restants, décompte gelé",
        "clock stopped since 02/02/2026 awaiting information (GDPR Art. "
        "12(6)): 1000000 days left, frozen",
    ),
    "explanation": (
        "Réception le 31/01/2026 ; prolongation de deux mois décidée le 10/02/2026 "
        "(art. 12(3) RGPD), soit trois mois à compter de la réception ; lundi ouvré.",
        "Received on 31/01/2026; two-month extension decided on 10/02/2026 (GDPR Art. "
        "12(3)), i.e. three months from receipt; Monday, a working day.",
    ),
    "explanation_one": ("Réception le 31/01/2026.", "Received on 31/01/2026."),
}

LOCALE: Final = {
    "non_working_day": ("samedi 02/05/2026", "Saturday May 2, 2026"),
    "non_working_day_holiday": (
        "vendredi 01/05/2026 (Fête du Travail)",
        "Friday May 1, 2026 (Labour Day)",
    ),
    "receipt_date": ("Réception le 31/01/2026", "Received on Jan 31, 2026"),
    "receipt_same_day": ("Réception le 31/01/2026", "Received on Jan 31, 2026"),
    "receipt_other_day": (
        "Réception le 31/01/2026 à 23:30 UTC, soit le 01/02/2026 à Paris",
        "Received on Jan 31, 2026 at 23:30 UTC, i.e. Feb 1, 2026 in Paris",
    ),
    "extension": (
        "prolongation de deux mois décidée le 10/02/2026 (art. 12(3) RGPD), soit trois "
        "mois à compter de la réception",
        "two-month extension decided on Feb 10, 2026 (GDPR Art. 12(3)), i.e. three "
        "months from receipt",
    ),
    "last_day_of_month_1": (
        "un mois → 28/02/2026 (dernier jour du mois, art. 3(2)(c) du règlement 1182/71)",
        "one month → Feb 28, 2026 (last day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "same_day_number_1": (
        "un mois → 30/04/2026 (même quantième, art. 3(2)(c) du règlement 1182/71)",
        "one month → Apr 30, 2026 (same day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "last_day_of_month_3": (
        "trois mois → 28/02/2026 (dernier jour du mois, art. 3(2)(c) du règlement 1182/71)",
        "three months → Feb 28, 2026 (last day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "same_day_number_3": (
        "trois mois → 30/04/2026 (même quantième, art. 3(2)(c) du règlement 1182/71)",
        "three months → Apr 30, 2026 (same day of the month, Art. 3(2)(c) of Regulation 1182/71)",
    ),
    "working_day": ("lundi ouvré", "Monday, a working day"),
    "next_working_day_one": (
        "vendredi 01/05/2026 (Fête du Travail) non ouvré → lundi 04/05/2026 "
        "(jour ouvré suivant, art. 3(4) du règlement 1182/71)",
        "Friday May 1, 2026 (Labour Day) is not a working day → Monday May "
        "4, 2026 (next working day, Art. 3(4) of Regulation 1182/71)",
    ),
    "next_working_day_many": (
        "vendredi 01/05/2026 (Fête du Travail), samedi 02/05/2026, dimanche "
        "03/05/2026 non ouvrés → lundi 04/05/2026 (jour ouvré suivant, art. "
        "3(4) du règlement 1182/71)",
        "Friday May 1, 2026 (Labour Day), Saturday May 2, 2026, Sunday May "
        "3, 2026 are not working days → Monday May 4, 2026 (next working "
        "day, Art. 3(4) of Regulation 1182/71)",
    ),
    "suspension_-2": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations "
        "(-2 jours, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from Feb 2, 2026 to Feb 5, 2026 awaiting information (-2 "
        "days, GDPR Art. 12(6)) → Mar 3, 2026",
    ),
    "clock_stopped_-2": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : -2 jours restant, décompte gelé",
        "clock stopped since Feb 2, 2026 awaiting information (GDPR Art. 12(6)): "
        "-2 days left, frozen",
    ),
    "suspension_-1": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations "
        "(-1 jour, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from Feb 2, 2026 to Feb 5, 2026 awaiting information (-1 "
        "day, GDPR Art. 12(6)) → Mar 3, 2026",
    ),
    "clock_stopped_-1": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : -1 jour restant, décompte gelé",
        "clock stopped since Feb 2, 2026 awaiting information (GDPR Art. 12(6)): "
        "-1 day left, frozen",
    ),
    "suspension_0": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations (0 "
        "jour, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from Feb 2, 2026 to Feb 5, 2026 awaiting information (0 days, "
        "GDPR Art. 12(6)) → Mar 3, 2026",
    ),
    "clock_stopped_0": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : 0 jour restant, décompte gelé",
        "clock stopped since Feb 2, 2026 awaiting information (GDPR Art. 12(6)): "
        "0 days left, frozen",
    ),
    "suspension_1": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations (1 "
        "jour, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from Feb 2, 2026 to Feb 5, 2026 awaiting information (1 day, "
        "GDPR Art. 12(6)) → Mar 3, 2026",
    ),
    "clock_stopped_1": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : 1 jour restant, décompte gelé",
        "clock stopped since Feb 2, 2026 awaiting information (GDPR Art. 12(6)): "
        "1 day left, frozen",
    ),
    "suspension_2": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente d'informations (2 "
        "jours, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from Feb 2, 2026 to Feb 5, 2026 awaiting information (2 days, "
        "GDPR Art. 12(6)) → Mar 3, 2026",
    ),
    "clock_stopped_2": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations (art. "
        "12(6) RGPD) : 2 jours restants, décompte gelé",
        "clock stopped since Feb 2, 2026 awaiting information (GDPR Art. 12(6)): "
        "2 days left, frozen",
    ),
    "suspension_1000000": (
        "délai suspendu du 02/02/2026 au 05/02/2026 dans l'attente "
        "d'informations (1000000 jours, art. 12(6) RGPD) → 03/03/2026",
        "clock stopped from Feb 2, 2026 to Feb 5, 2026 awaiting information "
        "(1000000 days, GDPR Art. 12(6)) → Mar 3, 2026",
    ),
    "clock_stopped_1000000": (
        "délai suspendu depuis le 02/02/2026 dans l'attente d'informations "
        "(art. 12(6) RGPD) : 1000000 jours restants, décompte gelé",
        "clock stopped since Feb 2, 2026 awaiting information (GDPR Art. "
        "12(6)): 1000000 days left, frozen",
    ),
    "explanation": (
        "Réception le 31/01/2026 ; prolongation de deux mois décidée le 10/02/2026 "
        "(art. 12(3) RGPD), soit trois mois à compter de la réception ; lundi ouvré.",
        "Received on Jan 31, 2026; two-month extension decided on Feb 10, 2026 (GDPR "
        "Art. 12(3)), i.e. three months from receipt; Monday, a working day.",
    ),
    "explanation_one": ("Réception le 31/01/2026.", "Received on Jan 31, 2026."),
}
