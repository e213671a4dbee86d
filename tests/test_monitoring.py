"""The monitoring that ships in ``deploy/``: the alert rules pass ``promtool`` (Debian's
``prometheus`` package, installed when missing) and fire on made-up series, and the rules and
the Grafana dashboard name only metrics a running service exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import peewee
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.debian import ensure_debian_package
from tests.test_metrics import BEARER, _settings, serving

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "switchboard.json"
METRIC = re.compile(r"\b((?:switchboard|process|python)_[A-Za-z0-9_]+)")
PROMETHEUS_OWN = {"up"}  # Prometheus' own series of every scrape target


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    executable = ensure_debian_package("/usr/bin/promtool", "prometheus")
    return subprocess.run(
        [executable, *args], cwd=RULES, capture_output=True, text=True, timeout=120, check=False
    )


def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["definition"])
    return exprs


def _rule_exprs() -> list[str]:
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


async def test_rules_and_dashboard_use_only_exported_metrics(db: peewee.Database) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    settings = _settings(("memory://", "sbtest"))
    async with (
        serving(settings, channels=False) as (url, _),
        aiohttp.ClientSession() as http,
        http.get(f"{url}/metrics", headers=BEARER) as r,
    ):
        text = await r.text()
    # A family with no series yet (a counter whose labels come with its first event) counts.
    exported = {
        name
        for family in text_string_to_metric_families(text)
        for name in (family.name, *(s.name for s in family.samples))
    } | {f"{f.name}_total" for f in text_string_to_metric_families(text) if f.type == "counter"}
    for expr in _dashboard_exprs(dashboard) + _rule_exprs():
        names = set(METRIC.findall(expr))
        assert names or PROMETHEUS_OWN & set(re.findall(r"\w+", expr)), f"no metric in {expr!r}"
        missing = names - exported
        assert not missing, f"{expr!r} uses {sorted(missing)}, which /metrics does not export"
