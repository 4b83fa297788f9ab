"""The example Grafana dashboard draws only series the services really expose."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "vigie-overview.json"
# Every module that registers Vigie series on the default registry.
METRIC_MODULES = (
    "vigie_shared.kit.metrics",
    "sso_gateway.metrics",
    "dpo_requests.dashboard.metrics",
    "audit_log.metrics",
)
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exposed() -> dict[str, set[str]]:
    """Series name -> label names, for every Vigie metric family."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    series: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):
        describe = getattr(collector, "describe", None)
        for family in describe() if describe else ():
            if not family.name.startswith("vigie_"):
                continue
            labels = set(getattr(collector, "_labelnames", ()))
            for suffix in SUFFIXES.get(family.type, ("",)):
                series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_the_dashboard_is_importable_json_with_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"]
    assert dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]


def test_every_expression_uses_exposed_series_and_labels() -> None:
    exposed = _exposed()
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used: set[str] = set()
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            names = set(re.findall(r"\bvigie_[a-z_]+\b", expr))
            assert names, expr
            unknown = names - exposed.keys()
            assert not unknown, f"{panel['title']}: no such series {unknown}"
            labels = set(re.findall(r"by \(([^)]*)\)", expr))
            grouped = {name.strip() for group in labels for name in group.split(",")}
            available = set.union(*(exposed[n] for n in names))
            assert grouped <= available, f"{panel['title']}: labels {grouped - available}"
            used |= names
    # The series an operator watches first (traffic, latency, lag, dead letters, backlogs and
    # each service's own) are all on the dashboard.
    for wanted in (
        "vigie_http_requests_total",
        "vigie_http_request_duration_seconds_bucket",
        "vigie_consumer_lag_seconds",
        "vigie_events_dead_lettered_total",
        "vigie_outbox_backlog",
        "vigie_sso_tokens_issued_total",
        "vigie_sso_logins_failed_total",
        "vigie_dpo_requests",
        "vigie_dpo_requests_overdue",
        "vigie_audit_tree_size",
    ):
        assert wanted in used, wanted
