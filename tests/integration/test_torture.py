"""A small signal torture on the session sandbox: nothing escapes (bench/torture.py).

Every tortured fault command (partition, latency, kill-pods, the three
stress modes) is signalled once with each of SIGINT, SIGTERM and SIGKILL, at
a moment drawn from a seeded generator (start-up to revert), and one
``chaosgate gameday`` is SIGKILLed mid-fault. None may leave a fault applied
after SIGINT/SIGTERM or after ``chaosgate cleanup``, leave a child alive after
its owner ended, print a traceback, or exit with anything but the signal's
code (or its own, when it ended first). ``bench/torture.py --runs
200`` is the long version.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest
from _faults import ensure_healthy, write_target

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "torture.py"
SEED = int(os.environ.get("CHAOSGATE_TORTURE_SEED", "15"))
#: A child alive this long after its owner ended is an orphan. The suite checks that
#: children die with their owner, not how fast (bench/torture.py prints the 5 s figure).
ORPHAN_GRACE = 30.0


def _torture_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaosgate_bench_torture", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


torture = _torture_module()


def test_signals_across_the_fault_commands_leave_nothing(sandbox, tmp_path):
    rig = torture.Torture(sandbox, write_target(sandbox, tmp_path), tmp_path,
                         orphan_grace=ORPHAN_GRACE)
    # Delays count from the moment chaosgate's start-up guard is armed: a signal in Python's
    # own start-up is the interpreter's (a KeyboardInterrupt traceback), however slow the
    # machine; the bench, timing from the spawn, counts those apart.
    plan = torture.plan(len(torture.CASES) * len(torture.SIGNALS), random.Random(SEED))
    try:
        results = [rig.run(case, sig, delay, from_armed=True) for case, sig, delay in plan]
    finally:
        rig.cleanup()
        ensure_healthy(sandbox)
    print(torture.summary(results, ORPHAN_GRACE))
    assert torture.failures(results) == [], f"seed {SEED}"
    assert sum(r.signalled for r in results) >= len(results) // 2, "most signals must land"


def test_sigkill_of_a_gameday_mid_fault_stops_the_chaos(sandbox, tmp_path):
    rig = torture.Torture(sandbox, write_target(sandbox, tmp_path), tmp_path,
                         orphan_grace=ORPHAN_GRACE)
    try:
        result = rig.gameday_kill(tmp_path / "reports")
    finally:
        ensure_healthy(sandbox)
    assert result.signalled, result.output[-3000:]
    assert torture.failures([result]) == []
