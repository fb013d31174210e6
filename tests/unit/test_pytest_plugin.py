"""The pytest plugin inside real pytest runs (pytester, each in a subprocess).

What can run here without a sandbox: the options and markers, skipping
without a target, the dry run, and the fault fixture's teardown. For the
latter (and only here) the platform is a small recording stand-in, set in
the scenario's conftest by overriding ``chaos_platform``: the real
platforms are exercised by the fault and scenario integration tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import dump_target, render_sandbox_target

pytest_plugins = ["pytester"]

BASE = ["-p", "no:locust", "-p", "no:cacheprovider"]

# A platform that records every call in calls.jsonl and never touches anything.
FAKE_CONFTEST = '''
import json
import pytest
from chaosgate.platforms.base import Change, ProbeResult

CALLS = "calls.jsonl"


class RecordingPlatform:
    type = "recording"

    def _log(self, op, change=None):
        with open(CALLS, "a") as out:
            out.write(json.dumps({"op": op, "id": getattr(change, "fault_id", None)}) + "\\n")

    def plan_partition(self, spec, fault_id):
        self._log("plan")
        return Change("partition", "recording", fault_id, f"cut {spec.scope.describe()}")

    def apply(self, change):
        self._log("apply", change)

    def verify(self, change):
        return ProbeResult(True, "cut")

    def revert(self, change):
        self._log("revert", change)

    def verify_reverted(self, change):
        return ProbeResult(True, "healed")

    def moments(self, change, since):
        return []


@pytest.fixture(scope="session")
def chaos_platform():
    return RecordingPlatform()
'''

PARTITION = {"kind": "partition", "selector": "app=orders", "dependency": "postgres",
             "duration": 10}


@pytest.fixture
def target_file(pytester: pytest.Pytester) -> Path:
    """A sandbox target on ports nothing listens on (nothing here may reach it)."""
    topo = build_topology(pytester.path / "state", 29700)
    path = pytester.path / "target.yaml"
    dump_target(render_sandbox_target(topo), path)
    return path


def _calls(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    path = pytester.path / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _ledger(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    path = pytester.path / "ledger.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_options_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(*BASE, "--help")
    result.stdout.fnmatch_lines(["*chaosgate resilience testing*", "*--chaos-target=FILE*",
                                 "*--chaos-profile=NAME*", "*--chaos-rate=RPS*",
                                 "*--chaos-repeat=N*", "*--chaos-dry-run*",
                                 "*--chaos-results=FILE*", "*--chaos-ledger=FILE*",
                                 "*--chaos-kubeconfig=FILE*"])


def test_markers_are_declared_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked='''
        import pytest

        @pytest.mark.gameday
        @pytest.mark.fault(kind="kill-pods")
        def test_marked():
            pass
    ''')
    result = pytester.runpytest_subprocess(*BASE, "--strict-markers", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gameday:*", "@pytest.mark.fault(kind):*"])
    result = pytester.runpytest_subprocess(*BASE, "--strict-markers", "-rs")
    result.assert_outcomes(skipped=1)  # a game day without --chaos-target


@pytest.mark.parametrize("option", [["--chaos-repeat", "0"], ["--chaos-rate", "-5"]])
def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester,
                                            option: list[str]) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess(*BASE, *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option[0]}*"])


def test_without_a_target_game_days_skip_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenarios='''
        import pytest
        from chaosgate.gameday import GameDayConfig

        @pytest.mark.gameday
        def test_marked(gameday):
            gameday(GameDayConfig(name="never"))

        def test_unmarked_custom_scenario(chaos_target, chaos_fault):
            raise AssertionError("must not run")

        def test_plain():
            pass
    ''')
    result = pytester.runpytest_subprocess(*BASE, "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED*no --chaos-target given: game days run against a "
                                 "target, e.g. pytest scenarios --chaos-target*"] * 2)


def test_dry_run_prints_each_plan_and_touches_nothing(pytester: pytest.Pytester,
                                                      target_file: Path) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(test_dry=f'''
        import pytest
        from chaosgate.gameday import GameDayConfig

        pytestmark = pytest.mark.gameday

        @pytest.mark.fault("partition")
        def test_partition(gameday):
            gameday(GameDayConfig(name="partition", fault={PARTITION!r}))

        def test_baseline(gameday):
            gameday(GameDayConfig(name="baseline", warmup=8, observe=15, rate=25))

        def test_custom(chaos_fault, chaos_load):
            chaos_fault({PARTITION!r})
            raise AssertionError("a dry run never gets here")
    ''')
    result = pytester.runpytest_subprocess(
        *BASE, "-rs", f"--chaos-target={target_file}", "--chaos-dry-run",
        "--chaos-ledger=ledger.jsonl", "--chaos-results=out/gameday.json")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines([
        "*chaosgate target: *target.yaml (dry run)*",
        "*chaosgate game days*",
        "dry run: partition: partition cg-*: cut app=orders <-> postgres*",
        "dry run: baseline: no fault (baseline): 23 s of load at 25/s",
        "dry run: test_custom: partition cg-*: cut app=orders <-> postgres*",
    ])
    assert [c["op"] for c in _calls(pytester)] == ["plan", "plan"]  # planned, never applied
    assert not (pytester.path / "ledger.jsonl").exists()  # no ledger entry
    assert not (pytester.path / "out").exists()  # no load ran, no results written


def test_a_fault_marker_must_match_the_game_day(pytester: pytest.Pytester,
                                                target_file: Path) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(test_mismatch=f'''
        import pytest
        from chaosgate.gameday import GameDayConfig

        @pytest.mark.gameday
        @pytest.mark.fault(kind="latency")
        def test_partition(gameday):
            gameday(GameDayConfig(name="partition", fault={PARTITION!r}))
    ''')
    result = pytester.runpytest_subprocess(*BASE, f"--chaos-target={target_file}",
                                           "--chaos-dry-run")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*marked fault('latency') but the game day injects "
                                 "'partition'. Fix: make them agree*"])


def test_teardown_reverts_a_fault_from_the_ledger(pytester: pytest.Pytester,
                                                  target_file: Path) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(test_crash=f'''
        def test_lost_handle(chaos_fault):
            applied = chaos_fault({PARTITION!r})
            chaos_fault.session.faults.clear()  # the handle is lost: only the ledger knows
            raise RuntimeError("the scenario crashed with " + applied.fault_id + " applied")

        def test_kept_handle(chaos_fault):
            chaos_fault({PARTITION!r})
    ''')
    result = pytester.runpytest_subprocess(*BASE, f"--chaos-target={target_file}",
                                           "--chaos-ledger=ledger.jsonl")
    result.assert_outcomes(failed=1, passed=1)
    calls = _calls(pytester)
    applied = [c["id"] for c in calls if c["op"] == "apply"]
    reverted = [c["id"] for c in calls if c["op"] == "revert"]
    assert len(applied) == 2 and sorted(reverted) == sorted(applied)
    records = _ledger(pytester)
    final = {r["id"]: r for r in records if r["op"] == "reverted"}
    assert set(final) == set(applied)  # every ledger entry closed
    lost = applied[0]
    assert final[lost]["note"] == "chaos_fault teardown, from the ledger"
    assert "note" not in final[applied[1]]  # reverted through its handle


def test_sigint_reverts_the_fault_and_stops_the_session(pytester: pytest.Pytester,
                                                        target_file: Path) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(test_interrupted=f'''
        import os
        import signal
        import time

        def test_interrupted(chaos_fault):
            chaos_fault({PARTITION!r})
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(30)

        def test_never_runs():
            raise AssertionError("the session should have stopped")
    ''')
    result = pytester.runpytest_subprocess(*BASE, f"--chaos-target={target_file}",
                                           "--chaos-ledger=ledger.jsonl", timeout=120)
    assert result.ret == 130
    result.stdout.fnmatch_lines(["*interrupted by SIGINT: faults reverted, session stopped*"])
    ops = [c["op"] for c in _calls(pytester)]
    assert ops == ["plan", "apply", "revert"]
    assert [r["op"] for r in _ledger(pytester)] == ["open", "applied", "reverted"]


def test_an_interrupted_game_day_is_recorded_inconclusive_never_fail(
        pytester: pytest.Pytester, target_file: Path) -> None:
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(test_cut_short='''
        import signal

        from chaosgate.faults.signals import Interrupted

        def test_cut_short(gameday):
            raise Interrupted(signal.SIGTERM)  # as the game day's guard raises it

        def test_never_runs(gameday):
            raise AssertionError("the session should have stopped")
    ''')
    result = pytester.runpytest_subprocess(*BASE, f"--chaos-target={target_file}",
                                           "--chaos-ledger=ledger.jsonl",
                                           "--chaos-results=out/gameday.json", timeout=120)
    assert result.ret == 143
    doc = json.loads((pytester.path / "out" / "gameday.json").read_text())
    assert doc["verdict"] == "inconclusive"
    [only] = doc["gamedays"]
    assert (only["name"], only["verdict"]) == ("test_cut_short", "inconclusive")
    assert only["message"].startswith("interrupted by SIGTERM: ")
