"""The harness side of chaosgate.load: profiles, command lines, error kinds, file_sd,
log tailing, and the always-bounded supervision. Never imports locust."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from rich.console import Console

from chaosgate.load import runner
from chaosgate.load.command import RECORDER_PATH, LoadSpec, build_commands, worker_command
from chaosgate.load.export import (
    OverloadError,
    add_sd_target,
    error_kind,
    read_sd_targets,
    remove_sd_targets,
)
from chaosgate.load.profiles import (
    Profile,
    ShapeParams,
    find_profile,
    parse_conf,
    parse_duration,
    read_profile,
    target_users,
)
from chaosgate.load.progress import LogTail, Progress
from chaosgate.load.run import read_checkout_log, read_locust_json
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import parse_target, render_sandbox_target

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "loadprofiles"


def spec(tmp_path: Path, **kw: object) -> LoadSpec:
    profile = read_profile(PROFILES / "steady.conf")
    options: dict[str, object] = {"profile": profile, "host": "http://127.0.0.1:47000",
                                  "duration": 8.0, "out_dir": tmp_path, "run_id": "r1",
                                  "cwd": REPO}
    options.update(kw)
    return LoadSpec(**options)  # type: ignore[arg-type]


# -- profiles ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [
    ("45", 45.0), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1h30m", 5400.0),
    ("1m30s", 90.0), ("500ms", 0.5), ("2.5", 2.5), (12, 12.0),
])
def test_durations_in_locust_forms(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "-3s", "-3", "m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_conf_parsing_like_locust() -> None:
    conf = parse_conf("""
        # comment
        ; another
        [section ignored]
        locustfile = loadprofiles/shop.py
        users: 20
        --spawn-rate 5
        headless
        users = 25
    """)
    assert conf == {"locustfile": "loadprofiles/shop.py", "users": "25", "spawn-rate": "5",
                    "headless": "true"}


def test_conf_syntax_error_names_the_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_conf("users = 1\n= 3\n")


@pytest.mark.parametrize("name", ["steady", "ramp", "spike", "soak", "open"])
def test_every_shipped_profile_reads_and_names_the_shop_locustfile(name: str) -> None:
    profile = read_profile(find_profile(name, REPO))
    assert profile.locustfile(REPO) == PROFILES / "shop.py"
    assert profile.run_time is not None and profile.run_time > 0
    assert profile.users >= 1
    rps = profile.users * profile.user_rate
    assert 5 <= rps <= 40, "shipped profiles stay at tens of requests per second"
    if name != "open":
        assert profile.get("shape") == name
    assert profile.open_model == (name == "open")


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="steady"):
        find_profile("nope", tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        find_profile("missing.conf", tmp_path)


# -- shapes' arithmetic -------------------------------------------------------------
def test_steady_is_constant() -> None:
    p = ShapeParams("steady", users=20, spawn_rate=10)
    assert [target_users(p, t) for t in (0, 30, 600)] == [(20, 10.0)] * 3


def test_ramp_is_linear_then_holds() -> None:
    p = ShapeParams("ramp", users=30, ramp_from=2, ramp_up=60)
    assert target_users(p, 0)[0] == 2
    assert target_users(p, 30)[0] == 16
    assert target_users(p, 60)[0] == 30
    assert target_users(p, 90)[0] == 30
    users = [target_users(p, t)[0] for t in range(0, 70)]
    assert users == sorted(users)


def test_spike_goes_up_and_back() -> None:
    p = ShapeParams("spike", users=10, spike_at=20, spike_duration=15, spike_users=40)
    assert [target_users(p, t)[0] for t in (0, 19.9, 20, 34.9, 35, 50)] == [10, 10, 40, 40, 10, 10]
    assert target_users(ShapeParams("spike", users=5, spike_at=0), 1)[0] == 15  # default 3x


def test_soak_warms_up_from_one_user() -> None:
    p = ShapeParams("soak", users=15, warmup=120)
    assert target_users(p, 0)[0] == 1
    assert target_users(p, 60)[0] == 8
    assert target_users(p, 7200)[0] == 15


def test_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown shape"):
        ShapeParams("zigzag")


# -- command lines --------------------------------------------------------------------
def test_local_command_is_bounded_and_loads_the_recorder(tmp_path: Path) -> None:
    cmd = build_commands(spec(tmp_path, users=5, request_timeout=1.5, metrics_port=47050,
                              sd_file=tmp_path / "sd.json", metrics_linger=2.0))
    main = list(cmd.main)
    assert cmd.workers == ()
    assert main[:3] == [sys.executable, "-m", "locust"]
    assert main[main.index("-f") + 1] == f"{PROFILES / 'shop.py'},{RECORDER_PATH}"
    assert main[main.index("--config") + 1] == str(PROFILES / "steady.conf")
    assert main[main.index("--run-time") + 1] == "8s"
    assert "--headless" in main
    assert main[main.index("--json-file") + 1] == str(tmp_path / "locust")  # Locust adds .json
    assert main[main.index("--exit-code-on-error") + 1] == "0"
    assert main[main.index("--users") + 1] == "5"
    assert main[main.index("--request-timeout") + 1] == "1.5"
    assert main[main.index("--request-log") + 1] == str(tmp_path / "requests.jsonl")
    assert main[main.index("--loadgen-metrics-port") + 1] == "47050"
    assert main[main.index("--loadgen-sd-file") + 1] == str(tmp_path / "sd.json")
    assert main[main.index("--metrics-linger") + 1] == "2"
    assert "--master" not in main and "--open-model" not in main


def test_run_time_rounds_up_to_whole_seconds(tmp_path: Path) -> None:
    main = build_commands(spec(tmp_path, duration=7.2)).main
    assert main[main.index("--run-time") + 1] == "8s"


def test_rate_switches_to_the_open_model_spread_over_users(tmp_path: Path) -> None:
    main = build_commands(spec(tmp_path, rate=20.0, users=4)).main
    assert "--open-model" in main
    assert main[main.index("--user-rate") + 1] == "5"


def test_distributed_master_expects_its_workers(tmp_path: Path) -> None:
    cmd = build_commands(spec(tmp_path, workers=2), master_port=5557)
    main = list(cmd.main)
    assert main[main.index("--expect-workers") + 1] == "2"
    assert main[main.index("--master-bind-port") + 1] == "5557"
    assert main[main.index("--master-bind-host") + 1] == "127.0.0.1"
    assert "--expect-workers-max-wait" in main
    assert len(cmd.workers) == 2
    for worker in map(list, cmd.workers):
        assert "--worker" in worker and worker[worker.index("--master-port") + 1] == "5557"
        assert "--config" not in worker and "--run-time" not in worker  # refused on workers
        assert "--request-log" in worker  # the recorder starts before the master's options arrive


def test_master_for_remote_workers_binds_where_they_reach_it(tmp_path: Path) -> None:
    cmd = build_commands(spec(tmp_path, workers=1, remote_workers=2, master_bind="10.0.0.5",
                              master_port=6000, launcher=("ip", "netns", "exec", "m")))
    main = list(cmd.main)
    assert main[:4] == ["ip", "netns", "exec", "m"]
    assert main[main.index("--expect-workers") + 1] == "3"  # local and remote ones
    assert main[main.index("--master-bind-host") + 1] == "10.0.0.5"
    assert main[main.index("--master-bind-port") + 1] == "6000"
    assert len(cmd.workers) == 1 and cmd.workers[0][:4] == ("ip", "netns", "exec", "m")
    assert spec(tmp_path, remote_workers=1).distributed
    with pytest.raises(ValueError, match="--expect-workers"):
        spec(tmp_path, remote_workers=-1)


def test_a_remote_worker_ships_its_log_and_takes_the_rest_from_the_master() -> None:
    cmd = list(worker_command(PROFILES / "shop.py", "10.0.0.5", 6000))
    assert cmd[cmd.index("-f") + 1] == f"{PROFILES / 'shop.py'},{RECORDER_PATH}"
    assert cmd[cmd.index("--master-host") + 1] == "10.0.0.5"
    assert "--ship-requests" in cmd and "--request-log" not in cmd and "--host" not in cmd
    bare = worker_command(PROFILES / "shop.py", "h", 1, recorder=False)
    assert "--ship-requests" not in bare and str(RECORDER_PATH) not in " ".join(bare)


def test_distributed_needs_a_master_port(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="master port"):
        build_commands(spec(tmp_path, workers=1))


def test_bare_locust_has_no_recorder(tmp_path: Path) -> None:
    main = build_commands(spec(tmp_path, recorder=False, metrics_port=47050)).main
    assert main[main.index("-f") + 1] == str(PROFILES / "shop.py")
    assert "--request-log" not in main and "--loadgen-metrics-port" not in main


@pytest.mark.parametrize("bad", [{"duration": 0.0}, {"users": 0}, {"rate": -1.0},
                                 {"workers": -1}])
def test_spec_validation(tmp_path: Path, bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        spec(tmp_path, **bad)


def test_spec_for_a_sandbox_target_exports_client_metrics(tmp_path: Path) -> None:
    topo = build_topology(tmp_path / "sb", 48300)
    target = parse_target(render_sandbox_target(topo))
    profile = read_profile(PROFILES / "open.conf")
    s = runner.spec_for_target(target, profile, 10, out_root=tmp_path, run_id="x")
    assert s.host == "http://127.0.0.1:48300"
    assert s.metrics_port == topo.ports.loadgen_metrics
    assert s.sd_file == topo.loadgen_sd_file.resolve()
    assert s.metrics_linger == 2.0
    assert s.out_dir == tmp_path / "x"


# -- error kinds and file_sd -----------------------------------------------------------
class HTTPConnectionClosed(Exception):
    pass


class LocustBadStatusCode(ConnectionError):
    pass


class RetriesExceeded(Exception):  # geventhttpclient's wrapper, with the real error
    def __init__(self, original: BaseException) -> None:
        super().__init__("retries exceeded")
        self.original = original


@pytest.mark.parametrize(("exc", "status", "kind"), [
    (TimeoutError("timed out"), None, "timeout"),
    (ConnectionRefusedError(), None, "connection"),
    (HTTPConnectionClosed(), 0, "connection"),
    (LocustBadStatusCode("503"), 503, "http_5xx"),
    (LocustBadStatusCode("404"), 404, "http_4xx"),
    (OverloadError(), None, "overload"),
    (RetriesExceeded(TimeoutError()), None, "timeout"),
    (RetriesExceeded(ConnectionRefusedError()), None, "connection"),
    (ValueError("201 without an order_id"), 201, "bad_response"),
    (RuntimeError(), None, "other"),
    ("a failure message", 500, "http_5xx"),
])
def test_error_kinds(exc: BaseException | str, status: int | None, kind: str) -> None:
    assert error_kind(exc, status) == kind


def test_file_sd_entries_are_added_and_removed_by_address_or_run(tmp_path: Path) -> None:
    sd = tmp_path / "conf" / "loadgen-targets.json"
    assert read_sd_targets(sd) == []
    add_sd_target(sd, "127.0.0.1:47050", {"run_id": "a", "role": "local"})
    add_sd_target(sd, "127.0.0.1:47051", {"run_id": "b", "role": "worker"})
    add_sd_target(sd, "127.0.0.1:47052", {"run_id": "b", "role": "worker"})
    add_sd_target(sd, "127.0.0.1:47050", {"run_id": "a", "role": "local"})  # replaced, not doubled
    assert len(json.loads(sd.read_text())) == 3
    assert remove_sd_targets(sd, address="127.0.0.1:47050") == 1
    assert remove_sd_targets(sd, run_id="b") == 2
    assert json.loads(sd.read_text()) == []
    assert remove_sd_targets(sd, run_id="b") == 0


def test_a_torn_sd_file_reads_as_empty(tmp_path: Path) -> None:
    sd = tmp_path / "sd.json"
    sd.write_text('[{"targets": ["127.0')
    assert read_sd_targets(sd) == []


# -- following the log, reading results --------------------------------------------
LINE = ('{"t":%s,"ms":5.0,"name":"/api/products","method":"GET","ok":true,"status":200,'
        '"error":null}\n')


def test_log_tail_returns_only_complete_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    tail = LogTail(log)
    assert tail.read_new() == []  # not there yet
    with open(log, "w") as f:
        f.write(LINE % 1 + LINE % 2 + (LINE % 3)[:20])
    assert [r.t for r in tail.read_new()] == [1, 2]
    with open(log, "a") as f:
        f.write((LINE % 3)[20:])
    assert [r.t for r in tail.read_new()] == [3]
    assert tail.read_new() == []


def test_progress_renders_totals(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    log.write_text(LINE % 1 + LINE.replace('"ok":true', '"ok":false')
                   .replace('"error":null', '"error":"timeout"') % 2)
    progress = Progress("load steady", 10)
    progress.add(LogTail(log).read_new())
    assert progress.count == 2 and progress.failures == {"timeout": 1}
    assert progress.render() is not None


def test_result_files_are_read_leniently(tmp_path: Path) -> None:
    checkouts = tmp_path / "checkouts.jsonl"
    checkouts.write_text('{"t":1.0,"client_seq":1,"order_id":7,"ok":true,"status":201}\n{"t":')
    assert [(c.client_seq, c.order_id) for c in read_checkout_log(checkouts)] == [(1, 7)]
    assert read_checkout_log(tmp_path / "none.jsonl") == []
    assert read_locust_json(tmp_path / "none.json") == []
    (tmp_path / "bad.json").write_text("{")
    assert read_locust_json(tmp_path / "bad.json") == []


# -- supervision: always bounded -------------------------------------------------------
def test_a_locust_that_never_ends_is_killed_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stubborn = tmp_path / "python"
    stubborn.write_text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.1; done\n")
    stubborn.chmod(stubborn.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(runner, "STARTUP_ALLOWANCE", 0.0)
    monkeypatch.setattr(runner, "TERM_WAIT", 0.5)
    run = runner.run_load(spec(tmp_path, duration=1.0, python=str(stubborn)),
                          show_progress=False, grace=0.5)
    assert run.killed and not run.ok
    assert run.exit_codes == (-9,)
    assert run.requests == 0
    assert run.ended - run.started < 30


FAKE_LOCUST = """#!{python}
import json, sys, time
args = sys.argv[1:]
log, out = args[args.index("--request-log") + 1], args[args.index("--json-file") + 1]
now = time.time()
with open(log, "a") as f:
    for i in range(3):
        f.write(json.dumps({{"t": now + i / 10, "ms": 5.0 + i, "name": "/api/products",
                            "method": "GET", "ok": i < 2, "status": 200 if i < 2 else 503,
                            "error": None if i < 2 else "http_5xx"}}) + "\\n")
        f.flush()
        time.sleep(0.3)
json.dump([{{"name": "/api/products", "method": "GET", "num_requests": 3, "num_failures": 1,
            "response_times": {{"5": 1, "6": 1, "7": 1}}}}], open(out + ".json", "w"))
"""


def test_a_run_ends_in_a_load_run_with_exact_stats_and_live_progress(tmp_path: Path) -> None:
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_LOCUST.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    run = runner.run_load(spec(tmp_path / "out", duration=1.0, python=str(fake)),
                          console=console, show_progress=True)
    assert run.ok and run.exit_codes == (0,)
    assert run.requests == run.locust_requests == 3
    assert run.mismatches == () and run.report_lag() == 0
    assert run.stats.total.errors_by_kind == {"http_5xx": 1}
    assert run.stats.total.p50_ms == 6.0
    assert [r.ms for r in run.records()] == [5.0, 6.0, 7.0]
    assert "requests" in screen.getvalue() and "http_5xx 1" in screen.getvalue()
    assert run.to_json()["stats"]["total"]["count"] == 3


def test_the_pytest_process_never_imports_locust() -> None:
    with pytest.raises(ImportError, match="Locust subprocess"):
        import chaosgate.load.shapes  # noqa: F401
    assert "locust" not in sys.modules
    assert os.environ.get("CHAOSGATE_ALLOW_LOCUST_IMPORT") != "1"


def test_profile_numbers_are_checked() -> None:
    profile = Profile("x", Path("x.conf"), {"users": "many"})
    with pytest.raises(ValueError, match="users"):
        _ = profile.users
