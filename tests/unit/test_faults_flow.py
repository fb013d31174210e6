"""The fault session with a recording actuator: ledger first, revert always, signals."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chaosgate.exceptions import FaultNotEffective, FaultRevertedElsewhere
from chaosgate.faults import FaultKind, FaultSession, signals
from chaosgate.faults.base import Fault, FaultContext
from chaosgate.faults.ledger import Ledger
from chaosgate.faults.session import revert_entry
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
        assert change.fault_id in [e.id for e in self.ledger.open_entries()]
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
    kind = FaultKind.PARTITION

    def __init__(self, ctx: FaultContext, actuator: Recorder) -> None:
        super().__init__(ctx)
        self.actuator = actuator

    def prepare(self) -> tuple[Change, Recorder]:
        return (Change(FaultKind.PARTITION, "sandbox", self.fault_id, "stub change", {}),
                self.actuator)


@pytest.fixture
def session(tmp_path: Path) -> FaultSession:
    target = parse_target(render_sandbox_target(build_topology(tmp_path / "sb", 47000)))
    return FaultSession(target, platform=None, ledger=Ledger(tmp_path / "l.jsonl"))  # type: ignore[arg-type]


@pytest.fixture
def ctx(session: FaultSession) -> FaultContext:
    return session.context


def test_run_reverts_after_holding_and_closes_the_ledger(session, ctx):
    rec = Recorder(ctx.ledger)
    run = session.run(Stub(ctx, rec), duration=0.2, verify_timeout=1, heal_timeout=1)
    tl = run.timeline
    assert rec.calls[0] == "apply" and rec.calls[-1] == "revert"
    assert tl.t_apply <= tl.t_inject <= tl.t_verified <= tl.t_revert <= tl.t_healed
    assert tl.t_revert - tl.t_inject >= 0.2
    assert ctx.ledger.open_entries() == []
    assert [m.what for m in tl.moments] == ["seen"]
    run.applied.revert()  # idempotent
    assert rec.calls.count("revert") == 1
    assert session.still_applied() == []
    assert session.revert_all().clean


def test_not_effective_is_reverted_then_reported(session, ctx):
    rec = Recorder(ctx.ledger, effective=False)
    with pytest.raises(FaultNotEffective, match="did not take hold") as err:
        session.run(Stub(ctx, rec), duration=5, verify_timeout=0.3, heal_timeout=1)
    assert err.value.exit_code == 3
    assert rec.calls[-1] == "revert"
    assert ctx.ledger.open_entries() == []
    assert err.value.run.timeline.t_revert is not None


def test_inject_leaves_an_effective_fault_applied_until_revert_all(session, ctx):
    rec = Recorder(ctx.ledger)
    applied = session.inject(Stub(ctx, rec), verify_timeout=1)
    assert rec.applied and session.still_applied() == [applied]
    assert [e.id for e in session.open_entries()] == [applied.fault_id]
    report = session.revert_all(heal_timeout=1)
    assert report.clean and len(report.reverted) == 1
    assert not rec.applied and session.still_applied() == []
    assert ctx.ledger.open_entries() == []


def test_inject_reverts_a_fault_that_did_not_take_hold(session, ctx):
    rec = Recorder(ctx.ledger, effective=False)
    with pytest.raises(FaultNotEffective, match="did not take hold"):
        session.inject(Stub(ctx, rec), verify_timeout=0.3, heal_timeout=1)
    assert rec.calls[-1] == "revert" and session.still_applied() == []
    assert ctx.ledger.open_entries() == []


def test_revert_all_reverts_its_own_entries_from_the_ledger_only(session, ctx, tmp_path):
    rec = Recorder(ctx.ledger)
    mine = session.inject(Stub(ctx, rec), verify_timeout=1)
    mine.reverted = True  # the handle is lost: only the ledger knows the fault is open
    other = FaultSession(session.target, platform=None, ledger=ctx.ledger)  # type: ignore[arg-type]
    theirs = other.inject(Stub(other.context, Recorder(ctx.ledger)), verify_timeout=1)
    reverted: list[str] = []

    def fake_revert_entry(entry: Any, *args: Any, **kwargs: Any) -> None:
        reverted.append(entry.id)
        ctx.ledger.mark(entry.id, "reverted", note=kwargs["note"])

    import chaosgate.faults.session as module
    original = module.revert_entry
    module.revert_entry = fake_revert_entry  # type: ignore[assignment]
    try:
        report = session.revert_all(heal_timeout=1)
    finally:
        module.revert_entry = original
    assert reverted == [mine.fault_id]  # never another session's fault
    assert report.clean
    assert [e.id for e in ctx.ledger.open_entries()] == [theirs.fault_id]
    other.revert_all(heal_timeout=1)
    assert ctx.ledger.open_entries() == []


def test_a_failed_apply_is_reverted(session, ctx):
    rec = Recorder(ctx.ledger, fail_apply=True)
    with pytest.raises(RuntimeError):
        session.inject(Stub(ctx, rec))
    assert rec.calls == ["apply", "revert"]
    assert ctx.ledger.open_entries() == []
    assert session.still_applied() == []


def test_dry_run_plan_touches_nothing(ctx):
    rec = Recorder(ctx.ledger)
    text = Stub(ctx, rec).plan()
    assert "stub change" in text and rec.calls == []
    assert not ctx.ledger.path.exists()


def test_sigint_reverts_before_the_exception_leaves(session, ctx):
    rec = Recorder(ctx.ledger)
    with pytest.raises(signals.Interrupted) as err, session.guard(heal_timeout=1):
        session.inject(Stub(ctx, rec), verify_timeout=1)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
        pytest.fail("SIGINT did not interrupt")
    assert err.value.exit_code == 130
    assert rec.calls.count("apply") == 1 and rec.calls[-1] == "revert"
    assert ctx.ledger.open_entries() == []
    assert session.last_report is not None and session.last_report.clean
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_signal_does_not_abort_the_revert(session, ctx):
    rec = Recorder(ctx.ledger, on_revert=lambda: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(signals.Interrupted) as err, session.guard(heal_timeout=1):
        session.inject(Stub(ctx, rec), verify_timeout=1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert err.value.exit_code == 143
    assert rec.calls.count("revert") == 1
    assert ctx.ledger.open_entries() == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_during_run_reverts_inside_run(session, ctx):
    rec = Recorder(ctx.ledger)

    def interrupt_soon(applied: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0.2)

    signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    try:
        with pytest.raises(signals.Interrupted), session.guard(heal_timeout=1):
            session.run(Stub(ctx, rec), duration=10, verify_timeout=1, heal_timeout=1,
                        on_applied=interrupt_soon)
    finally:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    assert rec.calls.count("revert") == 1
    assert ctx.ledger.open_entries() == []


def test_revert_entry_marks_a_failed_revert(session, ctx):
    class Broken:
        def revert(self, change: Change) -> None:
            raise RuntimeError("proxy unreachable")

    applied = session.inject(Stub(ctx, Recorder(ctx.ledger)), verify_timeout=1)
    [entry] = ctx.ledger.open_entries()
    with pytest.raises(RuntimeError):
        revert_entry(entry, session.target, Broken(), ctx.ledger, note="test")  # type: ignore[arg-type]
    [after] = ctx.ledger.open_entries()
    assert after.state == "revert_failed" and "proxy unreachable" in (after.error or "")
    applied.revert()


def test_a_fault_reverted_by_cleanup_during_the_hold_ends_it_inconclusive(session, ctx):
    rec = Recorder(ctx.ledger)
    fault = Stub(ctx, rec)
    hold = 120.0

    def cleanup_force() -> None:  # what `chaosgate cleanup --force` does from another process
        deadline = time.monotonic() + 30
        while "verify" not in rec.calls and time.monotonic() < deadline:
            time.sleep(0.02)
        rec.revert(Change(FaultKind.PARTITION, "sandbox", fault.fault_id, "stub change", {}))
        ctx.ledger.mark(fault.fault_id, "reverted", note="chaosgate cleanup")

    other = threading.Thread(target=cleanup_force)
    other.start()
    try:
        with pytest.raises(FaultRevertedElsewhere,
                           match=rf"{fault.fault_id} was reverted early by chaosgate cleanup "
                                 rf"\(pid {os.getpid()}\) at .* UTC, .* s into its 120 s hold"
                           ) as err:
            session.run(fault, duration=hold, verify_timeout=5, heal_timeout=5)
    finally:
        other.join()
    assert err.value.exit_code == 3  # inconclusive, never 0
    run = err.value.run
    assert run is not None and run.healed is not None and run.healed.ok
    entry = ctx.ledger.entries()[fault.fault_id]
    assert run.timeline.t_revert == entry.t_reverted and entry.note == "chaosgate cleanup"
    assert run.timeline.t_revert < run.timeline.t_inject + hold  # the hold stopped early
    assert rec.calls.count("revert") == 1  # not reverted again by the owner
    assert [r["op"] for r in ctx.ledger.records()].count("reverted") == 1
    assert session.still_applied() == [] and session.revert_all().clean


def test_no_fault_is_applied_once_the_parent_is_gone(session, ctx, monkeypatch):
    # a pid that held no process: the game-day parent named in CHAOSGATE_PARENT is gone
    monkeypatch.setenv("CHAOSGATE_PARENT", f"{2**22 + 7}:1")
    actuator = Recorder(session.ledger)
    with pytest.raises(signals.OwnerGone) as stopped:
        session.inject(Stub(ctx, actuator))
    assert stopped.value.exit_code == 143 and "no new fault" in str(stopped.value)
    assert actuator.calls == [] and session.ledger.records() == []


def test_faults_are_applied_while_the_parent_lives(session, ctx, monkeypatch):
    from chaosgate.clients.children import parent_env

    monkeypatch.setenv("CHAOSGATE_PARENT", parent_env()["CHAOSGATE_PARENT"])  # this process
    actuator = Recorder(session.ledger)
    session.inject(Stub(ctx, actuator))
    session.revert_all()
    assert actuator.calls[:2] == ["apply", "verify"] and "revert" in actuator.calls
