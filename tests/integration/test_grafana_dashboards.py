"""The Grafana provisioning of docker-compose.yml: the committed dashboards are the ones
the query layer builds, they name the provisioned datasource, and every panel's SQL runs
on ClickHouse (Grafana's macros expanded as the ClickHouse plugin expands them) and
agrees with the query library."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from meterstream_query import MetricRef, SeriesQuery, TimeRange, metric_series
from meterstream_query.grafana import DASHBOARDS, DATASOURCE
from meterstream_warehouse import Warehouse
from tests.integration.query_fixtures import (
    MODELS,
    START,
    KnownData,
    write_known_data,
    write_training_runs,
)

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "infra" / "grafana"
INTERVAL_S = 600
FROM, TO = START, START + timedelta(hours=3)


def _targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["rawSql"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable["query"]


def _expand(sql: str, variables: dict[str, list[str]]) -> str:
    """Grafana's interpolation and the ClickHouse plugin's macros, for one chosen range."""
    start, end = int(FROM.timestamp()), int(TO.timestamp())
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)",
        rf"\1 >= toDateTime({start}) AND \1 <= toDateTime({end})",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({start})")
    sql = sql.replace("$__toTime", f"toDateTime({end})")
    sql = sql.replace("$__interval_s", str(INTERVAL_S))

    def quoted(match: re.Match[str]) -> str:
        return ",".join(f"'{value}'" for value in variables[match[1]])

    sql = re.sub(r"\$\{(\w+):singlequote\}", quoted, sql)
    sql = re.sub(r"\$\{(\w+)\}", lambda match: variables[match[1]][0], sql)
    assert "$" not in sql, sql
    return sql


def test_committed_dashboards_are_the_ones_the_query_layer_builds() -> None:
    for name, build in DASHBOARDS.items():
        committed = orjson.loads((GRAFANA / "dashboards" / name).read_bytes())
        assert committed == build(), "regenerate with `meterstream query grafana-dashboards`"


def test_dashboards_name_the_provisioned_datasource_and_compose_mounts_them() -> None:
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text()
    )["datasources"]
    assert [(d["type"], d["uid"]) for d in datasources] == [(DATASOURCE["type"], DATASOURCE["uid"])]
    for build in DASHBOARDS.values():
        dashboard = build()
        assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {DATASOURCE["uid"]}
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids)
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "meterstream.yaml").read_text()
    )["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    assert f"./infra/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert "./infra/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "grafana-clickhouse-datasource" in grafana["environment"]["GF_PLUGINS_PREINSTALL"]
    for service in compose["services"].values():
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file()


@pytest.mark.clickhouse
def test_every_panel_runs_and_the_latency_panel_agrees_with_the_query_library(
    any_warehouse: Warehouse, project_name: str
) -> None:
    known: KnownData = write_known_data(any_warehouse, project=project_name)
    runs = write_training_runs(any_warehouse, project=project_name, steps=50)
    variables = {
        "project": [project_name],
        "model": list(MODELS),
        "quantile": ["0.95"],
        "run": runs,
        "key": ["train/reward"],
        "window": ["10"],
    }
    answers: dict[str, list[dict[str, Any]]] = {}
    for build in DASHBOARDS.values():
        for title, sql in _targets(build()):
            answers[title] = any_warehouse.query_rows(_expand(sql, variables))
    empty = [title for title, rows in answers.items() if not rows and title != "Alerts"]
    assert empty == []

    panel = answers["Latency p${quantile} per model"]
    library = metric_series(
        any_warehouse,
        project=known.project,
        query=SeriesQuery(
            metric=MetricRef.parse("system:latency_ms"),
            aggregation="p95",
            time_range=TimeRange(FROM, TO),
            interval_s=INTERVAL_S,
            group_by=("model",),
        ),
    )
    expected = {
        (s.group["model"], t): v
        for s in library.series
        for t, v in zip(s.times, s.values, strict=True)
    }
    got = {(row["model"], _unix(row["time"])): row["value"] for row in panel}
    assert got.keys() == expected.keys()
    assert all(math.isclose(got[k], expected[k] or math.nan, rel_tol=1e-9) for k in got)

    calls = answers["Calls and error rate"][0]
    assert calls["calls"] == len(known.completions)
    errors = sum(c["status"] != "ok" for c in known.completions)
    assert math.isclose(calls["error_rate"], errors / len(known.completions), rel_tol=1e-9)

    smoothed = [r for r in answers["${key} (mean of ${window} steps)"] if r["run"] == runs[0]]
    raw = [r["value"] for r in answers["${key} (raw)"] if r["run"] == runs[0]]
    assert [r["step"] for r in smoothed] == list(range(50))
    for step in (0, 9, 49):
        window = raw[max(0, step - 9) : step + 1]
        assert math.isclose(smoothed[step]["value"], sum(window) / len(window), rel_tol=1e-9)


def _unix(value: Any) -> int:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp())
