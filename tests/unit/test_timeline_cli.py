"""``chaosgate timeline``: incidents from a request log alone, the JSON shape, exit codes."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.exceptions import EXIT_INCONCLUSIVE, EXIT_USAGE
from chaosgate.load.requestlog import RequestRecord, dump_record

PROBES = str(Path(__file__).resolve().parents[2] / "probes")


def nowhere_target(tmp_path: Path) -> Path:
    """A valid target whose Prometheus is a port nothing listens on (port 9: discard)."""
    path = tmp_path / "target.yaml"
    path.write_text("""\
apiVersion: chaosgate/v1
kind: Target
name: nowhere
platform: {type: kubernetes}
prometheus: {url: "http://127.0.0.1:9", scrape_interval: 1s}
ingress: {url: "http://127.0.0.1:9"}
services: {shop: {selector: app=shop}}
""")
    return path

ROUTES = ("/api/products", "/api/products/{id}", "/api/checkout")


def request_log(path: Path, outages: list[tuple[float, float]], seconds: float = 70.0) -> Path:
    """50 requests/s over the shop's routes from t=1000; browsing fails during the outages."""
    rng = random.Random(7)
    with path.open("w") as out:
        t = 1000.0
        while t < 1000.0 + seconds:
            t += rng.expovariate(50.0)
            route = rng.choice(ROUTES)
            down = route != "/api/checkout" and any(a <= t < b for a, b in outages)
            dump_record(RequestRecord(t, 2.0 if down else rng.uniform(2, 20), route,
                                      "GET", not down, 502 if down else 200), out)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["timeline", *args])
    return result.exit_code, result.output


def test_two_outages_are_two_incidents_with_the_truth_in_their_bounds(tmp_path: Path) -> None:
    outages = [(1010.0, 1014.0), (1030.0, 1037.0)]
    log = request_log(tmp_path / "requests.jsonl", outages)
    code, out = run("--target", str(nowhere_target(tmp_path)), "--catalog", PROBES,
                    "--from", "1000", "--to", "1070", "--request-log", str(log), "--json")
    doc = json.loads(out)
    assert code == 0, out  # each TTR within 30 s; Prometheus down is only reported
    assert "server observer unavailable" in doc["problems"][0]
    incidents = doc["incidents"]
    assert len(incidents) == 2
    assert [i["impact"] for i in incidents] == sorted(i["impact"] for i in incidents)
    for incident, (t0, t1) in zip(incidents, outages, strict=True):
        client = incident["observers"]["client"]
        assert incident["observers"]["server"] is None and incident["agree"] is False
        assert abs(client["ttr"] - (t1 - t0)) <= client["uncertainty"]
        assert abs(incident["ttr"] - (t1 - t0)) <= incident["uncertainty"]
        assert incident["recovered"] > incident["detected"] >= incident["impact"]


def test_an_outage_still_going_is_listed_with_no_recovery(tmp_path: Path) -> None:
    log = request_log(tmp_path / "requests.jsonl", [(1050.0, 2000.0)])
    code, out = run("--target", str(nowhere_target(tmp_path)), "--catalog", PROBES,
                    "--from", "1000", "--to", "1070", "--request-log", str(log), "--json")
    (incident,) = json.loads(out)["incidents"]
    assert incident["recovered"] is None and incident["ttr"] is None
    assert code == EXIT_INCONCLUSIVE  # out for 20 s, not yet over the 30 s objective
    code, out = run("--target", str(nowhere_target(tmp_path)), "--catalog", PROBES,
                    "--from", "1000", "--to", "1070", "--request-log", str(log))
    assert "still out" in out


def test_no_data_is_inconclusive_and_bad_windows_are_usage_errors(tmp_path: Path) -> None:
    target = str(nowhere_target(tmp_path))
    code, out = run("--target", target, "--catalog", PROBES, "--since", "5m", "--json")
    assert code == EXIT_INCONCLUSIVE and json.loads(out)["incidents"] == []
    code, out = run("--target", target, "--since", "5m", "--from", "1000")
    assert code == EXIT_USAGE and "--since and --from/--to" in out
    code, out = run("--target", target, "--from", "yesterday")
    assert code == EXIT_USAGE and "--from 'yesterday': not a time" in out
    code, out = run("--target", target, "--catalog", PROBES, "--from", "1000", "--to", "1100",
                    "--slo", "availability")
    assert code == EXIT_USAGE and "not a recovery SLO" not in out and "availability" in out
