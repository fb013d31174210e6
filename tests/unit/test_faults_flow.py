"""The fault flow with a recording actuator: ledger first, revert always, signals."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chaosgate.exceptions import FaultNotEffective
from chaosgate.faults import signals
from chaosgate.faults.base import Fault, FaultContext
from chaosgate.faults.ledger import Ledger
from chaosgate.faults.runner import run_fault
from chaosgate.platforms.base import Change, Moment, ProbeResult
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import parse_target, render_sandbox_target


class Recorder:
    """An actuator that records calls; its effect is a flag."""

    def __init__(self, ledger: Ledger, effective: bool = True, fail_apply: bool = False,
                 on_revert: Any = None) -> None:
        self.ledger = ledger
        self.effective = effective
        self.fail_apply = fail_apply
        self.on_revert = on_revert
        self.calls: list[str] = []
        self.applied = False

    def apply(self, change: Change) -> None:
        # write-ahead: the entry must be on disk before anything is touched
        assert [e.id for e in self.ledger.open_entries()] == [change.fault_id]
        self.calls.append("apply")
        if self.fail_apply:
            raise RuntimeError("apply blew up")
        self.applied = True

    def verify(self, change: Change) -> ProbeResult:
        self.calls.append("verify")
        return ProbeResult(self.applied and self.effective, "probe")

    def revert(self, change: Change) -> None:
        self.calls.append("revert")
        if self.on_revert is not None:
            self.on_revert()
        self.applied = False

    def verify_reverted(self, change: Change) -> ProbeResult:
        return ProbeResult(not self.applied, "healed")

    def moments(self, change: Change, since: float) -> list[Moment]:
        return [Moment(time.time(), "seen", "x", "test")]


class Stub(Fault):
    kind = "stub"

    def __init__(self, ctx: FaultContext, actuator: Recorder) -> None:
        super().__init__(ctx)
        self.actuator = actuator

    def prepare(self) -> tuple[Change, Recorder]:
        return Change("partition", "sandbox", self.fault_id, "stub change", {}), self.actuator


@pytest.fixture
def ctx(tmp_path: Path) -> FaultContext:
    target = parse_target(render_sandbox_target(build_topology(tmp_path / "sb", 47000)))
    return FaultContext(target, platform=None, ledger=Ledger(tmp_path / "l.jsonl"))  # type: ignore[arg-type]


def test_run_reverts_after_holding_and_closes_the_ledger(ctx):
    rec = Recorder(ctx.ledger)
    outcome = run_fault(Stub(ctx, rec), duration=0.2, verify_timeout=1, heal_timeout=1)
    tl = outcome.timeline
    assert rec.calls[0] == "apply" and rec.calls[-1] == "revert"
    assert tl.t_inject <= tl.t_verified <= tl.t_revert <= tl.t_healed
    assert tl.t_revert - tl.t_inject >= 0.2
    assert ctx.ledger.open_entries() == []
    assert [m.what for m in tl.moments] == ["seen"]
    outcome.applied.revert()  # idempotent
    assert rec.calls.count("revert") == 1
    assert signals.active() == []


def test_not_effective_is_reverted_then_reported(ctx):
    rec = Recorder(ctx.ledger, effective=False)
    with pytest.raises(FaultNotEffective, match="did not take hold") as err:
        run_fault(Stub(ctx, rec), duration=5, verify_timeout=0.3, heal_timeout=1)
    assert err.value.exit_code == 3
    assert rec.calls[-1] == "revert"
    assert ctx.ledger.open_entries() == []
    assert err.value.outcome.timeline.t_revert is not None  # type: ignore[attr-defined]


def test_a_failed_apply_is_reverted(ctx):
    rec = Recorder(ctx.ledger, fail_apply=True)
    with pytest.raises(RuntimeError):
        Stub(ctx, rec).inject()
    assert rec.calls == ["apply", "revert"]
    assert ctx.ledger.open_entries() == []
    assert signals.active() == []


def test_dry_run_plan_touches_nothing(ctx):
    rec = Recorder(ctx.ledger)
    text = Stub(ctx, rec).plan()
    assert "stub change" in text and rec.calls == []
    assert not ctx.ledger.path.exists()


def test_sigint_reverts_before_the_exception_leaves(ctx):
    rec = Recorder(ctx.ledger)
    with pytest.raises(signals.Interrupted) as err, signals.reverting_on_signals():
        Stub(ctx, rec).inject()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        pytest.fail("SIGINT did not interrupt")
    assert err.value.exit_code == 130
    assert rec.calls == ["apply", "revert"]
    assert ctx.ledger.open_entries() == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_signal_does_not_abort_the_revert(ctx):
    rec = Recorder(ctx.ledger, on_revert=lambda: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(signals.Interrupted) as err, signals.reverting_on_signals():
        Stub(ctx, rec).inject()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert err.value.exit_code == 143
    assert rec.calls == ["apply", "revert"]
    assert ctx.ledger.open_entries() == []
