"""Every fault and load parameter is checked before anything is touched (UsageError, exit 2)."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from chaosgate.cli import app
from chaosgate.exceptions import EXIT_USAGE, UsageError
from chaosgate.faults import FaultKind, check_spec
from chaosgate.faults.resources import SAFETY_MARGIN
from chaosgate.faults.spec import MAX_DURATION_S
from chaosgate.load.command import (
    MAX_DURATION_S as MAX_LOAD_S,
)
from chaosgate.load.command import (
    MAX_RATE,
    LoadParameterError,
    check_load_parameters,
)
from chaosgate.load.profiles import parse_duration
from chaosgate.platforms.sandbox_stress import (
    DEFAULT_MAX_SECONDS,
    HARD_MAX_SECONDS,
    watchdog_seconds,
)
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import dump_target, render_sandbox_target

NAN, INF = float("nan"), float("inf")

BASE: dict[FaultKind, dict[str, Any]] = {
    FaultKind.KILL_PODS: {"selector": "app=orders"},
    FaultKind.PARTITION: {"selector": "app=orders", "dependency": "postgres"},
    FaultKind.LATENCY: {"selector": "app=orders", "dependency": "postgres", "latency_ms": 100},
    FaultKind.FAILOVER_DB: {"method": "switchover"},
    FaultKind.STRESS: {"selector": "app=catalog", "mode": "memory"},
}


def spec(kind: FaultKind, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, **BASE[kind], **fields}


BAD: list[tuple[FaultKind, str, Any]] = [
    *[(k, "duration", v) for k in FaultKind
      for v in (-5, -0.01, NAN, INF, -INF, MAX_DURATION_S + 1, 1e20, True, "10", None)],
    *[(FaultKind.KILL_PODS, "qty", v) for v in (0, -1, 1.5, NAN, True, "2")],
    *[(FaultKind.STRESS, "qty", v) for v in (0, -3)],
    *[(FaultKind.KILL_PODS, "percent", v) for v in (0, -10, 100.5, NAN, INF, True)],
    *[(FaultKind.LATENCY, "latency_ms", v)
      for v in (0, -1, 60_001, 99999999999999999999, 1.5, NAN, INF, True, None, "100")],
    *[(FaultKind.LATENCY, "jitter_ms", v) for v in (-1, 100, 500, 2.5, NAN, True)],
    *[(FaultKind.STRESS, "memory_mb", v) for v in (-1, 0, 100000000, 8193, 1.5, NAN, True)],
    *[(FaultKind.STRESS, "cpu_workers", v) for v in (0, -1, 65, 10**6, 2.0, True)],
    *[(FaultKind.STRESS, "mode", v) for v in ("disk", "", None, 1)],
    *[(k, "direction", v) for k in (FaultKind.PARTITION, FaultKind.LATENCY)
      for v in ("up", "", 3)],
    *[(FaultKind.FAILOVER_DB, "method", v) for v in ("", "   ", None, 1)],
]


@pytest.mark.parametrize(("kind", "field", "value"), BAD,
                         ids=[f"{k.value}-{f}-{v!r}" for k, f, v in BAD])
def test_a_bad_value_is_a_usage_error_naming_the_field(kind: FaultKind, field: str,
                                                       value: Any) -> None:
    with pytest.raises(UsageError) as info:
        check_spec(spec(kind, **{field: value}), "scenario x")
    assert info.value.exit_code == EXIT_USAGE == 2
    assert f"fault.{field}:" in str(info.value) and "Fix:" in str(info.value)


GOOD: list[tuple[FaultKind, dict[str, Any]]] = [
    *[(k, {"duration": d}) for k in FaultKind for d in (0, 0.01, 10, 10.5, MAX_DURATION_S)],
    (FaultKind.KILL_PODS, {"qty": 1}), (FaultKind.KILL_PODS, {"qty": 3, "namespace": "shop"}),
    (FaultKind.KILL_PODS, {"percent": 0.5}), (FaultKind.KILL_PODS, {"percent": 100}),
    (FaultKind.KILL_PODS, {"qty": None, "percent": None}),
    (FaultKind.LATENCY, {"latency_ms": 1}), (FaultKind.LATENCY, {"latency_ms": 60_000}),
    (FaultKind.LATENCY, {"latency_ms": 100, "jitter_ms": 0}),
    (FaultKind.LATENCY, {"latency_ms": 100, "jitter_ms": 99, "direction": "both"}),
    (FaultKind.PARTITION, {"direction": "from"}),
    (FaultKind.STRESS, {"memory_mb": 1}), (FaultKind.STRESS, {"memory_mb": 8192}),
    (FaultKind.STRESS, {"mode": "cpu", "cpu_workers": 64}),
    (FaultKind.STRESS, {"mode": "freeze", "duration": 30}),
    (FaultKind.FAILOVER_DB, {"method": "node-crash", "candidate": "pg-1"}),
]


@pytest.mark.parametrize(("kind", "fields"), GOOD)
def test_good_values_pass(kind: FaultKind, fields: dict[str, Any]) -> None:
    assert check_spec(spec(kind, **fields), "scenario x") is kind


def test_the_cli_user_is_told_the_option_a_spec_author_the_field() -> None:
    bad = spec(FaultKind.STRESS, memory_mb=-1)
    with pytest.raises(UsageError, match=r"fault\.memory_mb: -1 is not a positive number of "
                                         r"MiB\. Fix: pass --memory-mb between 1 and 8192"):
        check_spec(bad, "chaosgate fault stress")
    with pytest.raises(UsageError, match="Fix: pass the fault spec's memory_mb between 1 and "
                                         "8192"):
        check_spec(bad, "game day 'x'", front_end="pytest")
    with pytest.raises(UsageError, match="Fix: pass the action's memory_mb argument between 1 "
                                         "and 8192"):
        check_spec(bad, "chaosgate action (stress)", front_end="chaos run")
    with pytest.raises(UsageError, match="below the latency"):
        check_spec(spec(FaultKind.LATENCY, latency_ms=100, jitter_ms=500),
                   "chaosgate fault latency")


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                    st.booleans(), st.none(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(list(FaultKind)),
       values=st.dictionaries(st.sampled_from(["duration", "qty", "percent", "latency_ms",
                                               "jitter_ms", "memory_mb", "cpu_workers",
                                               "mode", "direction", "method"]), numbers))
def test_check_spec_raises_only_usage_errors(kind: FaultKind, values: dict[str, Any]) -> None:
    try:
        check_spec(spec(kind, **values), "fuzz")
    except UsageError:
        return
    for name in ("duration", "percent"):  # a spec that passes holds only finite numbers
        if values.get(name) is not None:
            assert math.isfinite(values[name]) and not isinstance(values[name], bool)


# -- the stress safety net ---------------------------------------------------------------
@pytest.mark.parametrize(("duration", "seconds"), [
    (None, DEFAULT_MAX_SECONDS), (INF, DEFAULT_MAX_SECONDS), (NAN, DEFAULT_MAX_SECONDS),
    (-5.0, DEFAULT_MAX_SECONDS), (0.0, DEFAULT_MAX_SECONDS), (130.0, 130.0),
    (1e12, HARD_MAX_SECONDS)])
def test_the_watchdog_deadline_is_always_finite_and_bounded(duration: float | None,
                                                             seconds: float) -> None:
    assert watchdog_seconds(duration) == seconds
    assert MAX_DURATION_S + SAFETY_MARGIN <= HARD_MAX_SECONDS


# -- load parameters ---------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    {"duration": 0}, {"duration": -1}, {"duration": NAN}, {"duration": INF},
    {"duration": MAX_LOAD_S + 1}, {"duration": 99999999999999999999 * 86400},
    {"duration": 10**400},
    {"rate": 0}, {"rate": -1}, {"rate": NAN}, {"rate": INF}, {"rate": 1e12},
    {"rate": MAX_RATE + 1}, {"users": 0}, {"users": 10**6}, {"users": True},
    {"workers": -1}, {"workers": 65}, {"request_timeout": 0}, {"request_timeout": NAN},
    {"request_timeout": INF}, {"request_timeout": -2}])
def test_a_bad_load_parameter_is_a_usage_error(bad: dict[str, Any]) -> None:
    params: dict[str, Any] = {"duration": 30.0, **bad}
    with pytest.raises(LoadParameterError) as info:
        check_load_parameters(**params)
    assert isinstance(info.value, UsageError) and isinstance(info.value, ValueError)
    assert info.value.exit_code == 2
    assert f"load.{next(iter(bad))}:" in str(info.value)


def test_good_load_parameters_pass() -> None:
    check_load_parameters(duration=30.0)
    check_load_parameters(duration=MAX_LOAD_S, rate=MAX_RATE, users=10_000, workers=64,
                          request_timeout=2.0)


@pytest.mark.parametrize("text", ["9" * 400 + "d", "9" * 400, "nan", "inf", "1e400", "-5"])
def test_an_absurd_duration_text_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# -- through the CLI: refused before the target's platform is even loaded -----------------
@pytest.fixture
def target_file(tmp_path: Path) -> Path:
    return dump_target(render_sandbox_target(build_topology(tmp_path / "sb", 47000)),
                       tmp_path / "target.yaml")


def _no_session(*_a: object, **_k: object) -> None:
    raise AssertionError("the spec must be checked before the session is made")


@pytest.mark.parametrize("args", [
    ["stress", "--selector", "app=catalog", "--mode", "memory", "--memory-mb", "-1"],
    ["stress", "--selector", "app=catalog", "--mode", "memory", "--memory-mb", "100000000"],
    ["stress", "--selector", "app=catalog", "--mode", "freeze", "--duration", "inf"],
    ["kill-pods", "--selector", "app=orders", "--duration", "-5"],
    ["kill-pods", "--selector", "app=orders", "--percent", "nan"],
    ["latency", "--dependency", "postgres", "--selector", "app=orders",
     "--latency", "99999999999999999999"],
    ["latency", "--dependency", "postgres", "--selector", "app=orders",
     "--latency", "100", "--jitter", "500"],
    ["partition", "--dependency", "postgres", "--selector", "app=orders",
     "--verify-timeout", "nan"],
    ["stress", "--selector", "app=catalog", "--mode", "cpu", "--workers", "0", "--dry-run"],
])
def test_the_cli_refuses_bad_values_before_touching_anything(
        target_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        args: list[str]) -> None:
    monkeypatch.setattr(importlib.import_module("chaosgate.cli.fault"), "_session", _no_session)
    ledger = tmp_path / "ledger.jsonl"
    result = CliRunner().invoke(app, ["fault", args[0], "--target", str(target_file),
                                      "--ledger", str(ledger), *args[1:]])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not ledger.exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--rate", "inf"], "load.rate"), (["--rate", "1e12"], "load.rate"),
    (["--rate", "nan"], "load.rate"), (["--duration", "99999999999999999999d"], "load.duration"),
    (["--duration", "inf"], "--duration"), (["--duration", "48h"], "load.duration"),
    (["--request-timeout", "inf"], "load.request_timeout")])
def test_load_run_refuses_bad_values_before_locust_starts(
        target_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        args: list[str], words: str) -> None:
    monkeypatch.setattr(importlib.import_module("chaosgate.load.runner"), "run_load",
                        _no_session)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = CliRunner().invoke(app, ["load", "run", "--target", str(target_file),
                                      "--out", str(tmp_path / "out"), "--no-progress", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and words in result.output
