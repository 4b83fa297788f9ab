"""The dashboard's charts, drawn server-side as inline SVG with pygal (no JavaScript needed).

Accessibility (WCAG 2.1, 1.1.1 non-text content): the ``<svg>`` is ``role="img"`` and is
labelled by a ``<title>`` and a ``<desc>`` that says in words what the chart shows, so a
screen reader gets the figures without the picture. pygal's tooltip script is not loaded and
its inline configuration script is dropped: the charts stay static, and pages can keep a
Content-Security-Policy without ``'unsafe-inline'`` scripts.
"""

from __future__ import annotations

import html
import re
import uuid
from typing import Final

import pygal
from pygal.style import Style

from dpo_requests.dashboard.stats import DashboardStats
from dpo_requests.web import i18n

_MONTHS: Final = {
    "fr": (
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
# The open statuses, named as the pages name them everywhere else (the table beside the chart).
_OPEN: Final = ("received", "identity_pending", "in_progress")
_TEXT: Final = {
    "fr": {
        "volume_title": "Demandes reçues par mois, {previous} et {current}",
        "volume_desc": "Total {previous} : {previous_total} demandes ; {current} : "
        "{current_total} demandes. Par mois ({current} / {previous}) : {months}.",
        "status_title": "Demandes ouvertes par statut ({total})",
        "status_desc": "{parts} ; dont {overdue} en retard et {due_soon} à échéance "
        "dans les {days} jours.",
    },
    "en": {
        "volume_title": "Requests received per month, {previous} and {current}",
        "volume_desc": "Total {previous}: {previous_total} requests; {current}: "
        "{current_total} requests. Per month ({current} / {previous}): {months}.",
        "status_title": "Open requests by status ({total})",
        "status_desc": "{parts}; of which {overdue} overdue and {due_soon} due within {days} days.",
    },
}
# Dark blue and orange: distinguishable with the common colour-vision deficiencies, and both
# above 4.5:1 against white (WCAG 1.4.11 asks 3:1 for graphical objects).
_STYLE: Final = Style(
    background="white",
    plot_background="white",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#595959",
    colors=("#8a4b08", "#1f4e79", "#b00020"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    title_font_size=18,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    value_font_size=13,
    # Solid fills: the contrast above is the colour's own, not lightened by transparency.
    opacity="1",
    opacity_hover=".85",
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def _lang(lang: str) -> str:
    return "en" if lang.lower().startswith("en") else "fr"


def _accessible(svg: str, *, title: str, desc: str, lang: str) -> str:
    svg = _SCRIPT.sub("", svg)
    ident = f"chart-{uuid.uuid4().hex[:8]}"
    match = _SVG_OPEN.search(svg)
    assert match is not None  # pygal always renders one root <svg>
    opening = match.group(0)[:-1] + (
        f' role="img" lang="{lang}" aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{html.escape(title)}</title>'
        f'<desc id="{ident}-desc">{html.escape(desc)}</desc>'
    )
    return svg[: match.start()] + opening + svg[match.end() :]


def _chart_config(title: str) -> dict[str, object]:
    return {
        "title": title,
        "style": _STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 720,
        "height": 360,
        "legend_at_bottom": True,
        "print_values": False,
        "show_y_guides": True,
    }


def volume_chart(stats: DashboardStats, *, lang: str = "fr") -> str:
    """Requests received per month, previous year beside current year (year over year)."""
    lang = _lang(lang)
    text = _TEXT[lang]
    names = {"previous": stats.previous_year, "current": stats.current_year}
    title = text["volume_title"].format(**names)
    chart = pygal.Bar(**_chart_config(title))
    chart.x_labels = list(_MONTHS[lang])
    chart.add(str(stats.previous_year), [m.previous for m in stats.volume])
    chart.add(str(stats.current_year), [m.current for m in stats.volume])
    months = ", ".join(
        f"{label} {m.current} / {m.previous}"
        for label, m in zip(_MONTHS[lang], stats.volume, strict=True)
    )
    desc = text["volume_desc"].format(
        **names,
        previous_total=stats.previous_year_total,
        current_total=stats.current_year_total,
        months=months,
    )
    return _accessible(chart.render(is_unicode=True), title=title, desc=desc, lang=lang)


def status_chart(stats: DashboardStats, *, lang: str = "fr") -> str:
    """Open requests by status; the description adds the overdue and due-soon counts."""
    lang = _lang(lang)
    text = _TEXT[lang]
    labels = {s: i18n.label(i18n.STATUSES, s, lang) for s in _OPEN}
    title = text["status_title"].format(total=stats.open_total)
    chart = pygal.HorizontalBar(**_chart_config(title), show_legend=False)
    chart.x_labels = [labels[s] for s in labels]
    chart.add(
        {"fr": "Ouvertes", "en": "Open"}[lang], [stats.open_by_status.get(s, 0) for s in labels]
    )
    parts = ", ".join(f"{labels[s]} : {stats.open_by_status.get(s, 0)}" for s in labels)
    if lang == "en":
        parts = parts.replace(" : ", ": ")
    desc = text["status_desc"].format(
        parts=parts, overdue=stats.overdue, due_soon=stats.due_soon, days=stats.due_soon_days
    )
    return _accessible(chart.render(is_unicode=True), title=title, desc=desc, lang=lang)
