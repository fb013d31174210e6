"""``chaosgate slo check``: bad input exits 2, an unreachable Prometheus exits 3."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.exceptions import EXIT_INCONCLUSIVE, EXIT_USAGE

PROBES = str(Path(__file__).resolve().parents[2] / "probes")


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nowhere_target(tmp_path: Path, ingress_port: int = 9) -> Path:
    """A valid target whose Prometheus is a port nothing listens on."""
    path = tmp_path / "target.yaml"
    path.write_text(f"""\
apiVersion: chaosgate/v1
kind: Target
name: nowhere
platform: {{type: kubernetes}}
prometheus: {{url: "http://127.0.0.1:{dead_port()}", scrape_interval: 15s}}
ingress: {{url: "http://127.0.0.1:{ingress_port}"}}
services: {{shop: {{selector: app=shop}}}}
""")
    return path


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A valid target whose Prometheus is a port nothing listens on."""
    return nowhere_target(tmp_path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["slo", "check", *args])
    return result.exit_code, result.output


def test_prometheus_down_is_inconclusive(target: Path) -> None:
    code, out = run("--target", str(target), "--catalog", PROBES, "--window", "5m", "--json")
    assert code == EXIT_INCONCLUSIVE
    doc = json.loads(out)
    assert doc["exit_code"] == EXIT_INCONCLUSIVE
    assert {v["status"] for v in doc["verdicts"]} == {"inconclusive"}
    assert all("[5m]" in v["query"]["total"] for v in doc["verdicts"])
    assert "not reachable" in doc["verdicts"][0]["reason"]


def test_the_table_shows_the_promql(target: Path) -> None:
    code, out = run("--target", str(target), "--catalog", PROBES, "--slo", "availability")
    assert code == EXIT_INCONCLUSIVE
    assert "haproxy_frontend_http_requests_total" in out and "inconclusive" in out


@pytest.mark.parametrize(("args", "words"), [
    (["--slo", "availabilty"], "did you mean 'availability'"),
    (["--slo", "time-to-recover"], "recovery SLO"),
    (["--window", "ten minutes"], "duration"),
    (["--catalog", "/nonexistent"], "no such file or folder"),
])
def test_bad_input_exits_2(target: Path, args: list[str], words: str) -> None:
    code, out = run("--target", str(target), "--catalog", PROBES, *args)
    assert code == EXIT_USAGE
    assert words in out


def test_a_bad_target_exits_2(tmp_path: Path) -> None:
    code, out = run("--target", str(tmp_path / "missing.yaml"))
    assert code == EXIT_USAGE and "file not found" in out


@pytest.mark.parametrize("window", ["99999999999999d", "401d", "0", "inf", "nan"])
def test_a_window_out_of_bounds_is_usage_before_any_query(target: Path, window: str) -> None:
    code, out = run("--target", str(target), "--catalog", PROBES, "--window", window)
    assert code == EXIT_USAGE, out
    assert "--window" in out and "PromQL" not in out and "Traceback" not in out


def test_window_problem_bounds() -> None:
    from chaosgate.slo.model import MAX_WINDOW_S, window_problem

    assert window_problem(600.0) is None and window_problem(MAX_WINDOW_S) is None
    assert window_problem(0.001) is None
    for bad in (0.0, -1.0, MAX_WINDOW_S + 1, float("inf"), float("nan"), 10**400, "10m", True):
        assert window_problem(bad) is not None, bad


def test_measured_slos_are_checked_and_shown(target: Path, tmp_path: Path) -> None:
    from rich.console import Console

    from chaosgate.cli.slo import verdict_table
    from chaosgate.slo.catalog import load_catalog
    from chaosgate.slo.evaluate import gauge_verdict, throughput_verdict

    catalogue = Path(__file__).parent / "data" / "measured_slos.yaml"
    code, out = run("--target", str(target), "--catalog", str(catalogue), "--json")
    assert code == EXIT_INCONCLUSIVE  # Prometheus is down: never a pass
    doc = json.loads(out)
    assert [(v["slo"], v["status"]) for v in doc["verdicts"]] == [
        ("ingest-latency-mean", "inconclusive"), ("throughput", "inconclusive"),
        ("consumer-lag", "inconclusive")]
    cat = load_catalog(catalogue)
    pairs = [(cat.get("throughput"), throughput_verdict(cat.get("throughput"), 72000, 600.0)),
             (cat.get("consumer-lag"), gauge_verdict(cat.get("consumer-lag"), [(1.0, 1200.0)],
                                                     window=600, scrape_interval=15))]
    console = Console(record=True, width=200)
    console.print(verdict_table(pairs, "each SLO's window"))
    text = console.export_text()
    assert "120 /s" in text and "≥ 116 /s" in text and "pass" in text
    assert "max 1200" in text and "max ≤ 1000" in text and "fail" in text
