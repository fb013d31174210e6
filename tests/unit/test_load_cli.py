"""``chaosgate load run`` when the system is not there or Locust breaks: exit 3 with one
line naming the host:port or quoting Locust's last error line, never Locust's traceback.

The unreachable ingress is a real port nothing listens on; the crash is a real Locust
subprocess whose locustfile raises at import (no load is sent anywhere).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_slo_cli import dead_port, nowhere_target

from chaosgate.cli import app
from chaosgate.exceptions import EXIT_INCONCLUSIVE, EXIT_USAGE
from chaosgate.load.requestlog import RequestRecord
from chaosgate.load.run import LoadRun, last_error_line
from chaosgate.load.stats import summarize

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def listener() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) and answers nothing."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield int(s.getsockname()[1])


def load_run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["load", "run", "--no-progress",
                                      "--out", str(tmp_path / "out"), *args])
    return result.exit_code, result.output


def test_an_unreachable_ingress_is_inconclusive_before_locust_starts(tmp_path: Path) -> None:
    port = dead_port()
    code, out = load_run(tmp_path, "--target", str(nowhere_target(tmp_path, port)),
                         "--duration", "30s")
    assert code == EXIT_INCONCLUSIVE, out
    assert f"127.0.0.1:{port}" in out and "connection refused" in out
    assert "chaosgate sandbox up" in out and "ingress.url" in out
    assert not (tmp_path / "out").exists()  # no Locust run was started


@pytest.mark.parametrize("duration", ["99999999999999999999d", "25h", "inf", "nan", "0"])
def test_absurd_durations_are_refused_before_anything(tmp_path: Path, duration: str) -> None:
    code, out = load_run(tmp_path, "--target", str(nowhere_target(tmp_path, dead_port())),
                         "--duration", duration)
    assert code == EXIT_USAGE, out
    assert "--duration" in out and "Traceback" not in out


@pytest.fixture
def goes_down() -> Iterator[int]:
    """A port that accepts one connection (the pre-flight), then nothing listens there."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)

    def once() -> None:
        conn, _ = s.accept()
        conn.close()
        s.close()

    thread = threading.Thread(target=once, daemon=True)
    thread.start()
    yield int(s.getsockname()[1])
    thread.join(timeout=1)
    s.close()


def test_every_request_failing_to_connect_is_inconclusive(
        tmp_path: Path, goes_down: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the profile names its locustfile relative to the repository
    code, out = load_run(tmp_path, "--target", str(nowhere_target(tmp_path, goes_down)),
                         "--profile", "steady", "--users", "2", "--duration", "2s")
    assert code == EXIT_INCONCLUSIVE, out
    assert f"failed to connect to 127.0.0.1:{goes_down}" in out and "Fix:" in out
    assert "Traceback" not in out


def test_a_locust_crash_is_one_line_with_the_log_path(tmp_path: Path, listener: int) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text('raise RuntimeError("the locustfile is broken on purpose")\n')
    conf = tmp_path / "broken.conf"
    conf.write_text(f"locustfile = {broken}\nusers = 1\nspawn-rate = 1\n")
    code, out = load_run(tmp_path, "--target", str(nowhere_target(tmp_path, listener)),
                         "--profile", str(conf), "--duration", "5s")
    assert code == EXIT_INCONCLUSIVE, out
    assert "Locust (local) exited 1: RuntimeError: the locustfile is broken on purpose" in out
    assert "Full log:" in out and "locust-local.log" in out
    assert "Traceback" not in out and 'File "' not in out


# -- the rules, on plain data ---------------------------------------------------------
def test_last_error_line_skips_traceback_frames_and_the_command() -> None:
    log = ("Traceback (most recent call last):\n"
           '  File "/x/locust/main.py", line 3, in main\n'
           "    run()\n"
           "OverflowError: timestamp too large to convert to C _PyTime_t\n")
    assert last_error_line(log) == "OverflowError: timestamp too large to convert to C _PyTime_t"
    assert last_error_line("locust: error: argument --run-time: bad\n") == \
        "locust: error: argument --run-time: bad"
    assert last_error_line("just this\n\n") == "just this"
    assert last_error_line("") == "(no output)"
    assert len(last_error_line("ValueError: " + "x" * 5000)) == 300


def rec(t: float, ok: bool, error: str | None, status: int | None) -> RequestRecord:
    return RequestRecord(t=t, ms=5.0, name="/api/products", method="GET", ok=ok,
                         status=status, error=error)


def a_run(tmp_path: Path, records: list[RequestRecord], *, exit_code: int = 0,
          log: str = "cmd\n", killed: bool = False) -> LoadRun:
    (tmp_path / "locust.json").write_text("[]")
    (tmp_path / "locust-local.log").write_text(log)
    return LoadRun(run_id="r", profile="steady", host="http://h:1", out_dir=tmp_path,
                   request_log=tmp_path / "requests.jsonl",
                   checkout_log=tmp_path / "checkouts.jsonl",
                   locust_json=tmp_path / "locust.json",
                   logs=(tmp_path / "locust-local.log",), commands=(), started=0.0,
                   ended=1.0, exit_codes=(exit_code,), killed=killed, workers=0,
                   stats=summarize(records), locust=(), mismatches=(), cpu_seconds=0.0)


def test_only_connection_failures_mean_nothing_answered(tmp_path: Path) -> None:
    refused = [rec(i, False, "connection", None) for i in range(16)]
    assert a_run(tmp_path, refused).unanswered
    one_ok = [*refused, rec(20, True, None, 200)]
    assert not a_run(tmp_path, one_ok).unanswered
    one_5xx = [*refused, rec(20, False, "http_5xx", 503)]  # the system answered
    assert not a_run(tmp_path, one_5xx).unanswered
    timeouts = [rec(i, False, "timeout", None) for i in range(4)]  # slow is data
    assert not a_run(tmp_path, timeouts).unanswered
    assert not a_run(tmp_path, []).unanswered


def test_problem_names_how_locust_ended(tmp_path: Path) -> None:
    ok = [rec(0, True, None, 200)]
    assert a_run(tmp_path, ok).problem() is None
    crashed = a_run(tmp_path, ok, exit_code=1, log="cmd --exit-code-on-error 0\nKeyError: 'x'\n")
    assert crashed.problem() == "Locust (local) exited 1: KeyError: 'x'"
    assert "killed by signal 9" in (a_run(tmp_path, ok, exit_code=-9).problem() or "")
    assert "overran" in (a_run(tmp_path, ok, killed=True).problem() or "")
    assert "sent no request" in (a_run(tmp_path, []).problem() or "")


def test_a_lost_worker_is_the_runs_problem_and_widens_the_clock_uncertainty(
    tmp_path: Path,
) -> None:
    import json
    from dataclasses import replace

    from chaosgate.load.run import read_workers_file

    (tmp_path / "workers.json").write_text(json.dumps({"workers": [
        {"id": "w-a", "index": 0, "records": 90, "last_request_t": 30.0, "lost_at": None,
         "clock": {"offset_s": 0.002, "uncertainty_s": 0.004, "rtt_s": 0.008, "samples": 9}},
        {"id": "w-b", "index": 1, "records": 40, "last_request_t": 12.0, "lost_at": 15.5,
         "clock": {"offset_s": -0.01, "uncertainty_s": 0.02, "rtt_s": 0.04, "samples": 4}},
    ]}))
    nodes = read_workers_file(tmp_path / "workers.json")
    assert [n.index for n in nodes] == [0, 1]
    run = replace(a_run(tmp_path, [rec(0, True, None, 200)]), nodes=nodes, workers=2)
    assert [n.id for n in run.lost_workers] == ["w-b"]
    assert run.clock_uncertainty == 0.02
    problem = run.problem()
    assert problem is not None and "worker 1 (w-b)" in problem and "LOST" in problem
    assert "3.5 s earlier" in problem and "-10.0 ms ± 20.0 ms" in problem
    unmeasured = replace(run, nodes=(replace(nodes[0], uncertainty_s=None, offset_s=None),))
    assert unmeasured.clock_uncertainty == 1.0 and unmeasured.problem() is None
    assert read_workers_file(tmp_path / "missing.json") == ()
    assert run.to_json()["clock_uncertainty_s"] == 0.02


@pytest.mark.parametrize("args", [["--master"], ["--expect-workers", "2"],
                                  ["--master", "--expect-workers", "0"]])
def test_master_and_expect_workers_go_together(tmp_path: Path, args: list[str]) -> None:
    code, out = load_run(tmp_path, "--target", str(nowhere_target(tmp_path, dead_port())),
                         "--duration", "5s", *args)
    assert code == EXIT_USAGE, out
    assert "--expect-workers" in out and "Traceback" not in out
    assert not (tmp_path / "out").exists()


def test_a_worker_without_a_master_host_or_locustfile_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["load", "worker", "--locustfile", str(tmp_path / "x.py")])
    assert result.exit_code == EXIT_USAGE
    assert "--master-host" in result.output or "--locustfile" in result.output
