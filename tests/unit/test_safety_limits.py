"""The target's safety limits: the upper bounds of fault and load parameters.

Parsed from the ``safety`` block (defaults, ceilings, errors), then enforced
by every check: ``check_spec`` (faults), ``check_load_parameters`` (load),
the stress safety net, and the CLI before anything is touched.
"""

from __future__ import annotations

import copy
import importlib
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.exceptions import EXIT_USAGE, TargetError, UsageError
from chaosgate.faults import FaultKind, check_spec
from chaosgate.faults.resources import SAFETY_MARGIN, safety_net
from chaosgate.load.command import LoadParameterError, check_load_parameters
from chaosgate.platforms.sandbox_stress import HARD_MAX_SECONDS, watchdog_seconds
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import (
    DEFAULT_LIMITS,
    LIMIT_CEILINGS,
    SafetyLimits,
    dump_target,
    load_target,
    parse_target,
    render_sandbox_target,
)

SOURCE = "targets/x.yaml"


def doc(tmp_path: Path, **limits: object) -> dict[str, Any]:
    """A sandbox target document whose safety block sets ``limits``."""
    d = copy.deepcopy(render_sandbox_target(build_topology(tmp_path / "sb", 47000)))
    for key in ("max_fault_duration", "max_latency_ms", "max_memory_mb", "max_cpu_workers",
                "max_load_duration", "max_load_rate", "max_load_users"):
        del d["safety"][key]
    d["safety"].update(limits)
    return d


def limits_of(tmp_path: Path, **limits: object) -> SafetyLimits:
    return parse_target(doc(tmp_path, **limits), SOURCE).safety.limits


# -- the schema ------------------------------------------------------------------------
def test_a_target_that_sets_no_limit_gets_the_defaults(tmp_path: Path) -> None:
    d = doc(tmp_path)
    assert parse_target(d, SOURCE).safety.limits == DEFAULT_LIMITS
    del d["safety"]
    limits = parse_target(d, SOURCE).safety.limits
    assert limits == DEFAULT_LIMITS
    assert (DEFAULT_LIMITS.max_fault_duration, DEFAULT_LIMITS.max_latency_ms,
            DEFAULT_LIMITS.max_memory_mb, DEFAULT_LIMITS.max_cpu_workers,
            DEFAULT_LIMITS.max_load_duration, DEFAULT_LIMITS.max_load_rate,
            DEFAULT_LIMITS.max_load_users) == (3600, 60_000, 8192, 64, 86_400, 10_000, 10_000)
    assert limits.origin("max_latency_ms") == (
        f"the default safety.max_latency_ms = 60000; {SOURCE} does not set it")


def test_a_target_lowers_or_raises_limits_within_the_ceilings(tmp_path: Path) -> None:
    limits = limits_of(tmp_path, max_fault_duration="10m", max_latency_ms=5000,
                       max_memory_mb=16384, max_cpu_workers=2, max_load_duration="12h",
                       max_load_rate=50, max_load_users=100000)
    assert (limits.max_fault_duration, limits.max_latency_ms, limits.max_memory_mb,
            limits.max_cpu_workers, limits.max_load_duration, limits.max_load_rate,
            limits.max_load_users) == (600, 5000, 16384, 2, 43_200, 50, 100_000)
    assert limits.origin("max_fault_duration") == f"{SOURCE} safety.max_fault_duration = 10m"
    assert limits.origin("max_load_rate") == f"{SOURCE} safety.max_load_rate = 50"


def test_the_sandbox_target_writes_the_defaults_out(tmp_path: Path) -> None:
    rendered = render_sandbox_target(build_topology(tmp_path / "sb", 47000))
    assert rendered["safety"]["max_fault_duration"] == "1h"
    assert rendered["safety"]["max_load_rate"] == 10000
    target = load_target(dump_target(rendered, tmp_path / "t.yaml"))
    assert target.safety.limits == DEFAULT_LIMITS
    assert target.safety.limits.origin("max_memory_mb").startswith(str(tmp_path / "t.yaml"))


BAD_LIMITS: list[tuple[str, object, str]] = [
    ("max_latency_ms", 0, "0 is not a positive limit. Fix: use a whole number from 1 to "
                          "600000 (ms), or leave it out for the default, 60000"),
    ("max_latency_ms", -5, "is not a positive limit"),
    ("max_latency_ms", 600_001, "600001 is above chaosgate's ceiling of 600000, the most it "
                                "handles safely"),
    ("max_latency_ms", 99999999999999999999, "is above chaosgate's ceiling"),
    ("max_latency_ms", 1.5, "expected a whole number, got a number (1.5)"),
    ("max_memory_mb", True, "expected a whole number, got a boolean"),
    ("max_cpu_workers", "8", "expected a whole number, got a string"),
    ("max_memory_mb", 2**21, "above chaosgate's ceiling of 1048576"),
    ("max_cpu_workers", 1025, "above chaosgate's ceiling of 1024"),
    ("max_load_users", 0, "not a positive limit"),
    ("max_load_rate", math.nan, "nan is not a positive limit"),
    ("max_load_rate", math.inf, "inf is not a positive limit"),
    ("max_load_rate", -1.0, "not a positive limit"),
    ("max_load_rate", 1e7, "above chaosgate's ceiling of 1000000"),
    ("max_fault_duration", 600, "expected a duration string, got a number (600). Fix: "
                                "write it like `max_fault_duration: 1h`"),
    ("max_fault_duration", "13h", "13h is above chaosgate's ceiling of 12h, the most it "
                                  "handles safely. Fix: use a duration above 0 and at most "
                                  "12h, or leave it out for the default, 1h"),
    ("max_fault_duration", "0s", "is zero"),
    ("max_fault_duration", "9" * 400 + "d", "too long a duration"),
    ("max_load_duration", "8d", "above chaosgate's ceiling of 7d"),
    ("max_load_duration", "soon", "is not a duration"),
]


@pytest.mark.parametrize(("key", "value", "words"), BAD_LIMITS,
                         ids=[f"{k}-{v!r:.20}" for k, v, _ in BAD_LIMITS])
def test_a_bad_limit_names_the_file_the_field_and_the_fix(tmp_path: Path, key: str,
                                                          value: object, words: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target(doc(tmp_path, **{key: value}), SOURCE)
    assert info.value.exit_code == EXIT_USAGE
    assert info.value.field == f"safety.{key}"
    assert str(info.value).startswith(f"{SOURCE}: safety.{key}: ")
    assert words in str(info.value) and "Fix:" in str(info.value)


def test_an_unknown_limit_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="did you mean 'max_latency_ms'"):
        parse_target(doc(tmp_path, max_latency=5000), SOURCE)


def test_a_bad_limit_in_a_file_is_located_by_line(tmp_path: Path) -> None:
    file = dump_target(doc(tmp_path), tmp_path / "t.yaml")
    text = file.read_text().replace("  dry_run: false\n",
                                    "  dry_run: false\n  max_latency_ms: 0\n")
    file.write_text(text)
    line = text.splitlines().index("  max_latency_ms: 0") + 1
    with pytest.raises(TargetError, match=rf"^{file}:{line}: safety\.max_latency_ms: 0 is not"):
        load_target(file)


# -- faults ----------------------------------------------------------------------------
LATENCY = {"kind": FaultKind.LATENCY, "selector": "app=orders", "dependency": "postgres"}
STRESS = {"kind": FaultKind.STRESS, "selector": "app=catalog", "mode": "memory"}


def test_check_spec_refuses_a_value_above_the_targets_lowered_limit(tmp_path: Path) -> None:
    limits = limits_of(tmp_path, max_latency_ms=5000, max_fault_duration="1m")
    assert check_spec({**LATENCY, "latency_ms": 5000, "duration": 60}, "s", limits)
    with pytest.raises(UsageError) as info:
        check_spec({**LATENCY, "latency_ms": 5001}, "chaosgate fault latency", limits)
    assert info.value.exit_code == EXIT_USAGE
    assert str(info.value) == (
        "chaosgate fault latency: fault.latency_ms: 5001 is above the limit of 5000 ms "
        f"({SOURCE} safety.max_latency_ms = 5000). Fix: pass --latency at most 5000, or "
        f"raise safety.max_latency_ms in {SOURCE} (at most 600000) if the system can take it")
    with pytest.raises(UsageError, match=rf"fault\.duration: 61 is above the limit of 60 s "
                                         rf"\({SOURCE} safety\.max_fault_duration = 1m\)\. "
                                         r"Fix: pass the fault spec's duration at most 60"):
        check_spec({**LATENCY, "latency_ms": 100, "duration": 61}, "game day 'x'", limits,
                   front_end="pytest")
    # still caught: what the field's own check refuses, with the target's limit in the fix
    with pytest.raises(UsageError, match="between 1 and 5000"):
        check_spec({**LATENCY, "latency_ms": -1}, "s", limits)


def test_check_spec_allows_what_a_raised_limit_allows(tmp_path: Path) -> None:
    big = {**STRESS, "memory_mb": 16384}
    with pytest.raises(UsageError, match=r"above the limit of 8192 MiB \(the default "
                                         r"safety\.max_memory_mb = 8192\)"):
        check_spec(big, "s")
    assert check_spec(big, "s", limits_of(tmp_path, max_memory_mb=16384)) is FaultKind.STRESS
    workers = {**STRESS, "mode": "cpu", "cpu_workers": 65}
    assert check_spec(workers, "s", limits_of(tmp_path, max_cpu_workers=128))
    with pytest.raises(UsageError, match=r"fault\.cpu_workers: 3 is above the limit of 2"):
        check_spec({**workers, "cpu_workers": 3}, "s", limits_of(tmp_path, max_cpu_workers=2))


# -- the stress safety net -------------------------------------------------------------
@pytest.mark.parametrize(("duration", "limit", "net"), [
    (None, 600.0, 600.0 + SAFETY_MARGIN), (30.0, 600.0, 30.0 + SAFETY_MARGIN),
    (5000.0, 600.0, 600.0 + SAFETY_MARGIN), (0.0, 3600.0, SAFETY_MARGIN),
    (None, LIMIT_CEILINGS.max_fault_duration, LIMIT_CEILINGS.max_fault_duration + SAFETY_MARGIN),
])
def test_the_stress_safety_net_follows_the_targets_max_fault_duration(
        duration: float | None, limit: float, net: float) -> None:
    assert safety_net(duration, limit) == net
    assert watchdog_seconds(net) == net  # within the watchdog's hard clamp: always finite
    assert LIMIT_CEILINGS.max_fault_duration + SAFETY_MARGIN <= HARD_MAX_SECONDS


# -- load ------------------------------------------------------------------------------
def test_load_parameters_are_bounded_by_the_targets_limits(tmp_path: Path) -> None:
    low = limits_of(tmp_path, max_load_rate=50, max_load_duration="90s", max_load_users=10)
    check_load_parameters(duration=90, rate=50, users=10, limits=low)
    for bad, words in (({"duration": 91}, "load.duration: 91 is not within the limit of 90s "
                                          f"({SOURCE} safety.max_load_duration = 90s)"),
                       ({"rate": 50.5}, "load.rate: 50.5 is not within the limit of 50 "
                                        "requests per second"),
                       ({"users": 11}, "Fix: pass --users at most 10 users, or raise "
                                       f"safety.max_load_users in {SOURCE}")):
        params: dict[str, Any] = {"duration": 30.0, **bad}
        with pytest.raises(LoadParameterError) as info:
            check_load_parameters(**params, limits=low)
        assert words in str(info.value)
    high = limits_of(tmp_path, max_load_rate=50_000, max_load_duration="2d")
    check_load_parameters(duration=2 * 86400, rate=50_000, limits=high)
    with pytest.raises(LoadParameterError, match=r"load\.rate"):
        check_load_parameters(duration=30, rate=50_000)  # the default limit: 10 000


# -- through the CLI -------------------------------------------------------------------
def _never(*_a: object, **_k: object) -> None:
    raise AssertionError("the values must be checked before this is reached")


def test_fault_latency_dry_run_is_refused_by_the_targets_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.import_module("chaosgate.cli.fault"), "_session", _never)
    target = dump_target(doc(tmp_path, max_latency_ms=5000), tmp_path / "lowered.yaml")
    ledger = tmp_path / "ledger.jsonl"
    result = CliRunner().invoke(app, [
        "fault", "latency", "--target", str(target), "--ledger", str(ledger), "--dry-run",
        "--selector", "app=orders", "--dependency", "postgres", "--latency", "6000"])
    assert result.exit_code == 2, result.output
    assert (f"fault.latency_ms: 6000 is above the limit of 5000 ms ({target} "
            "safety.max_latency_ms = 5000). Fix: pass --latency at most 5000") in result.output
    assert "Traceback" not in result.output and not ledger.exists()


def test_validate_refuses_a_bad_limit(tmp_path: Path) -> None:
    target = dump_target(doc(tmp_path), tmp_path / "t.yaml")
    target.write_text(target.read_text().replace("  dry_run: false\n",
                                                 "  dry_run: false\n  max_load_rate: .inf\n"))
    result = CliRunner().invoke(app, ["validate", str(target)])
    assert result.exit_code == 2, result.output
    assert "safety.max_load_rate: inf is not a positive limit" in result.output
    assert "Traceback" not in result.output


def test_load_run_is_refused_by_the_targets_limit(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.import_module("chaosgate.load.runner"), "run_load", _never)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    target = dump_target(doc(tmp_path, max_load_rate=20), tmp_path / "t.yaml")
    result = CliRunner().invoke(app, ["load", "run", "--target", str(target), "--profile",
                                      "open", "--rate", "40", "--duration", "10s",
                                      "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert f"({target} safety.max_load_rate = 20)" in result.output
