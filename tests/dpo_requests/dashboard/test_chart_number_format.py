"""The charts' axes count requests in whole numbers written as the reader writes them, and
their titles, descriptions and series come from the pages' catalogue, in French and English."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from dpo_requests.dashboard.charts import status_chart, volume_chart
from dpo_requests.dashboard.stats import DashboardStats, MonthVolume
from vigie_shared.kit.i18n import format_decimal

SVG = "{http://www.w3.org/2000/svg}"


def stats(*, open_by_status: dict[str, int], current: list[int]) -> DashboardStats:
    return DashboardStats(
        today=date(2026, 12, 6),
        open_total=sum(open_by_status.values()),
        open_by_status=open_by_status,
        open_by_type={},
        overdue=1,
        due_soon=2,
        extended=0,
        suspended=0,
        overdue_requests=[],
        stuck_tasks=[],
        closed=0,
        closed_on_time=0,
        current_year=2026,
        previous_year=2025,
        volume=[MonthVolume(month=m, current=c, previous=0) for m, c in enumerate(current, 1)],
        current_year_total=sum(current),
        previous_year_total=0,
        previous_year_to_date=0,
    )


def axis_labels(svg: str) -> list[str]:
    """The value axis' tick labels: pygal marks that axis ``always_show`` (it is the y axis of a
    bar chart, the x axis of a horizontal one)."""
    root = ET.fromstring(svg)
    axes = [g for g in root.iter(f"{SVG}g") if "always_show" in (g.get("class") or "")]
    assert axes, "the chart has no value axis"
    return [t.text or "" for axis in axes for t in axis.iter(f"{SVG}text")]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_few_requests_get_whole_number_ticks(lang: str) -> None:
    few = stats(open_by_status={"received": 1, "in_progress": 2}, current=[1] + [0] * 11)
    for svg in (status_chart(few, lang=lang), volume_chart(few, lang=lang)):
        labels = axis_labels(svg)
        assert labels, svg[:300]
        assert all(label.isdigit() for label in labels), labels


@pytest.mark.parametrize(("lang", "thousands"), [("fr", "\u202f"), ("en", ",")])
def test_large_counts_are_grouped_as_the_reader_writes_them(lang: str, thousands: str) -> None:
    many = stats(open_by_status={"received": 1500}, current=[2400] + [0] * 11)
    for svg in (status_chart(many, lang=lang), volume_chart(many, lang=lang)):
        labels = axis_labels(svg)
        assert any(thousands in label for label in labels), labels
        assert all(label.replace(thousands, "").isdigit() for label in labels), labels
    assert format_decimal(1500, lang, 0) in status_chart(many, lang=lang)


def test_titles_descriptions_and_series_come_from_the_catalogue() -> None:
    some = stats(open_by_status={"received": 1200, "in_progress": 3}, current=[5] + [0] * 11)
    french = html.unescape(status_chart(some, lang="fr"))
    english = html.unescape(status_chart(some, lang="en"))
    assert "Demandes ouvertes par statut (1\u202f203)" in french
    assert "Reçue : 1\u202f200, En attente d'informations : 0, En cours : 3 ; dont 1 en" in french
    assert "Open requests by status (1,203)" in english
    assert "Received: 1,200, Waiting for information: 0, In progress: 3; of which 1" in english
    volume_fr, volume_en = volume_chart(some, lang="fr"), volume_chart(some, lang="en")
    assert "Demandes reçues par mois, 2025 et 2026" in volume_fr
    assert "Par mois (2026 / 2025) : janv. 5 / 0" in volume_fr
    assert "Requests received per month, 2025 and 2026" in volume_en
    assert "Per month (2026 / 2025): Jan 5 / 0" in volume_en
