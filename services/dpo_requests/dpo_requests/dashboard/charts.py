"""The dashboard's charts, drawn server-side as inline SVG with pygal (no JavaScript needed).

Accessibility (WCAG 2.1, 1.1.1 non-text content): the ``<svg>`` is ``role="img"`` and is
labelled by a ``<title>`` and a ``<desc>`` that says in words what the chart shows, so a
screen reader gets the figures without the picture. pygal's tooltip script is not loaded and
its inline configuration script is dropped: the charts stay static, and pages can keep a
Content-Security-Policy without ``'unsafe-inline'`` scripts.
"""

from __future__ import annotations

import html
import math
import re
import uuid
from collections.abc import Callable
from typing import Final

import pygal
from babel.dates import get_month_names
from pygal.style import Style

from dpo_requests.dashboard.stats import DashboardStats
from dpo_requests.web import i18n
from vigie_shared.kit.i18n import N_, format_decimal

# The open statuses, named as the pages name them everywhere else (the table beside the chart).
_OPEN: Final = ("received", "identity_pending", "in_progress")
_VOLUME_TITLE: Final = N_("Requests received per month, %(previous)s and %(current)s")
_VOLUME_DESC: Final = N_(
    "Total %(previous)s: %(previous_total)s requests; %(current)s: %(current_total)s "
    "requests. Per month (%(current)s / %(previous)s): %(months)s."
)
_STATUS_TITLE: Final = N_("Open requests by status (%(total)s)")
_STATUS_DESC: Final = N_(
    "%(parts)s; of which %(overdue)s overdue and %(due_soon)s due within %(days)s days."
)
_OPEN_SERIES: Final = N_("Open")
_PAIR: Final = N_("%(name)s: %(value)s")
_TICKS: Final = 5
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


def _months(lang: str) -> list[str]:
    """CLDR's abbreviated month names (``janv.``, ``Jan``), as the pages' dates write them."""
    return [str(name) for name in get_month_names("abbreviated", locale=lang).values()]


def _count(lang: str) -> Callable[[float], str]:
    """Counts as the reader writes whole numbers (``1 234`` in French, ``1,234`` in English)."""
    return lambda value: format_decimal(value, lang, 0)


def _whole_ticks(values: list[int]) -> list[int]:
    """Axis ticks at whole numbers: a count of requests has no ``0.2``."""
    top = max([*values, 1])
    step = max(1, math.ceil(top / _TICKS))
    return list(range(0, top + step, step))


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


def _chart_config(title: str, lang: str, values: list[int]) -> dict[str, object]:
    return {
        "title": title,
        "value_formatter": _count(lang),
        "y_labels": _whole_ticks(values),
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
    count = _count(lang)
    names = {"previous": str(stats.previous_year), "current": str(stats.current_year)}
    title = i18n.gettext(lang, _VOLUME_TITLE, **names)
    previous = [m.previous for m in stats.volume]
    current = [m.current for m in stats.volume]
    chart = pygal.Bar(**_chart_config(title, lang, previous + current))
    months = _months(lang)
    chart.x_labels = months
    chart.add(names["previous"], previous)
    chart.add(names["current"], current)
    per_month = ", ".join(
        f"{label} {count(m.current)} / {count(m.previous)}"
        for label, m in zip(months, stats.volume, strict=True)
    )
    desc = i18n.gettext(
        lang,
        _VOLUME_DESC,
        **names,
        previous_total=count(stats.previous_year_total),
        current_total=count(stats.current_year_total),
        months=per_month,
    )
    return _accessible(chart.render(is_unicode=True), title=title, desc=desc, lang=lang)


def status_chart(stats: DashboardStats, *, lang: str = "fr") -> str:
    """Open requests by status; the description adds the overdue and due-soon counts."""
    lang = _lang(lang)
    count = _count(lang)
    labels = {s: i18n.label(i18n.STATUSES, s, lang) for s in _OPEN}
    values = [stats.open_by_status.get(s, 0) for s in labels]
    title = i18n.gettext(lang, _STATUS_TITLE, total=count(stats.open_total))
    chart = pygal.HorizontalBar(**_chart_config(title, lang, values), show_legend=False)
    chart.x_labels = list(labels.values())
    chart.add(i18n.gettext(lang, _OPEN_SERIES), values)
    parts = ", ".join(
        i18n.gettext(lang, _PAIR, name=name, value=count(value))
        for name, value in zip(labels.values(), values, strict=True)
    )
    desc = i18n.gettext(
        lang,
        _STATUS_DESC,
        parts=parts,
        overdue=count(stats.overdue),
        due_soon=count(stats.due_soon),
        days=count(stats.due_soon_days),
    )
    return _accessible(chart.render(is_unicode=True), title=title, desc=desc, lang=lang)
