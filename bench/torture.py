"""Signal torture: does chaosgate ever leave chaos behind? (issue 15, deliverable 7)

Runs fault commands against a sandbox, as a user would start them, and
signals each one (SIGINT, SIGTERM or SIGKILL) at a random moment: during
start-up, while the fault is injected, held or reverted. After each run it
looks for what escaped:

- **leftovers**: ledger entries still open, fault-proxy links disabled or
  with a toxic, sandbox pods still frozen (state ``T``), hogs still running;
  checked right after the command ended, and again after
  ``chaosgate cleanup`` (which must leave nothing);
- **orphans**: processes the command had started (its descendants,
  snapshotted by pid and start time just before the signal) still alive
  5 s after it ended;
- **tracebacks**: ``Traceback`` in what the command printed;
- **exit codes** other than the expected ones (130 after SIGINT, 143 after
  SIGTERM, or the command's own code when it ended before the signal). A
  SIGTERM in the interpreter's own start-up (the ~20 ms before chaosgate's
  first line, :mod:`chaosgate.cli._startup`) kills the process silently with
  the signal, which the shell reports as 143; such runs are counted apart.

``--gameday-kills N`` adds N SIGKILLs of ``chaosgate gameday`` in the middle
of a fault: within 5 s none of its processes may be alive, and no fault may
be opened after the kill.

    .venv/bin/python bench/torture.py [--runs 200] [--seed N] [--base-port 29000]
                                      [--gameday-kills 1]

The suite runs a small version of this on its session sandbox
(tests/integration/test_torture.py); this script starts a sandbox of its own
on ``--base-port`` (stopped at the end), all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from chaosgate.cli._startup import catches  # noqa: E402
from chaosgate.clients.processes import (  # noqa: E402
    Identity,
    descendants,
    identify,
    process_table,
    read_stat,
    signal_identity,
)
from chaosgate.clients.supervisor import SupervisorClient  # noqa: E402
from chaosgate.clients.toxiproxy import ToxiproxyClient  # noqa: E402
from chaosgate.faults import Ledger  # noqa: E402
from chaosgate.platforms.hog import find_hogs  # noqa: E402
from chaosgate.sandbox.manager import SandboxManager, temporary_sandbox  # noqa: E402

#: The fault commands tortured: name -> arguments after ``chaosgate fault``.
CASES: dict[str, tuple[str, ...]] = {
    "partition": ("partition", "--selector", "app=gateway", "--peer-selector", "app=catalog"),
    "latency": ("latency", "--selector", "app=orders", "--dependency", "postgres",
                "--latency", "300"),
    "kill-pods": ("kill-pods", "--selector", "app=catalog"),
    "stress-cpu": ("stress", "--selector", "app=catalog", "--mode", "cpu"),
    "stress-memory": ("stress", "--selector", "app=catalog", "--mode", "memory",
                      "--memory-mb", "64"),
    "freeze": ("stress", "--selector", "app=catalog", "--mode", "freeze"),
}
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
EXPECTED = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}
#: A SIGTERM in the interpreter's own start-up, before chaosgate's first line runs, kills
#: the process with the signal: the shell sees 143 and nothing was touched. Counted apart.
STARTUP_KILL = -signal.SIGTERM
HOLD_S = 4.0  # --duration of every tortured fault
LATEST_SIGNAL_S = 5.0  # signals land in [0, this) s after the start: start-up to revert
ORPHAN_GRACE_S = 5.0  # the acceptance figure: children gone this long after their owner
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Run:
    """One tortured command and what it left."""

    case: str
    sig: signal.Signals
    delay: float
    exit_code: int | None = None
    signalled: bool = False  # False: the command had ended before the signal was due
    traceback: bool = False
    left_before: list[str] = field(default_factory=list)
    left_after: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)  # faults opened after a SIGKILL
    output: str = ""

    @property
    def bad_exit(self) -> bool:
        """An exit code that is neither the signal's nor a normal end's."""
        if self.signalled:
            return self.exit_code not in (EXPECTED[self.sig], 0) and not self.killed_starting
        return self.exit_code != 0

    @property
    def killed_starting(self) -> bool:
        """Killed by a SIGTERM before chaosgate could handle it (Python's start-up)."""
        if self.signalled and self.sig == signal.SIGTERM and self.exit_code == STARTUP_KILL:
            return not self.output.strip()
        return False


class Torture:
    """Runs and inspects tortured commands against one sandbox."""

    def __init__(self, sandbox: SandboxManager, target: Path, work: Path,
                 log: Callable[[str], None] = print,
                 orphan_grace: float = ORPHAN_GRACE_S) -> None:
        self.sandbox = sandbox
        self.target = target
        self.work = work
        self.ledger = work / "ledger.jsonl"
        self.log = log
        # how long a child may outlive its owner before it counts as an orphan (the bench
        # holds the 5 s figure; the suite checks the property with a margin, no timing)
        self.orphan_grace = orphan_grace

    # -- what is left ----------------------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Everything a fault could have left behind on the sandbox, described."""
        found = [f"ledger: {e.fault} {e.id} {e.state}"
                 for e in Ledger(self.ledger).open_entries()]
        for name, proxy in ToxiproxyClient(self.sandbox.topo.faultproxy_url).proxies().items():
            if not proxy.enabled:
                found.append(f"link {name} disabled")
            found += [f"link {name}: toxic {t.get('name', '?')}" for t in proxy.toxics]
        for info in SupervisorClient(self.sandbox.topo.supervisor_url).processes():
            stat = read_stat(info.pid) if info.pid else None
            if stat is not None and stat.state == "T":
                found.append(f"pod {info.name} (pid {info.pid}) frozen")
        for pidfile in sorted((self.sandbox.topo.run_dir / "hogs").glob("*.json")):
            found += [f"hog pid {i.pid} ({pidfile.name})" for i in find_hogs(pidfile)]
        return found

    def cleanup(self) -> subprocess.CompletedProcess[str]:
        """``chaosgate cleanup`` on the tortured ledger."""
        return _chaosgate("cleanup", "--target", str(self.target), "--ledger", str(self.ledger))

    def heal(self) -> None:
        """Wait until the sandbox is healthy again (pods restarted, failover settled)."""
        self.sandbox.up(timeout=240)

    # -- one run ----------------------------------------------------------------------------

    def run(self, case: str, sig: signal.Signals, delay: float, *,
            from_armed: bool = False) -> Run:
        """Start fault ``case``, signal it ``delay`` s later, inspect what it left.

        ``from_armed``: count the delay from the moment chaosgate's start-up guard
        is armed (``_startup.catches``), not from the spawn, so that no signal lands
        in the interpreter's own start-up however slow the machine is."""
        result = Run(case, sig, delay)
        cmd = [sys.executable, "-m", "chaosgate.cli", "fault", *CASES[case],
               "--target", str(self.target), "--ledger", str(self.ledger),
               "--duration", f"{HOLD_S:g}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        with _reading(proc) as output:
            while from_armed and proc.poll() is None and not catches(proc.pid, signal.SIGTERM):
                time.sleep(0.001)
            family = _wait_then_snapshot(proc, delay)
            if proc.poll() is None:
                result.signalled = True
                proc.send_signal(sig)
            try:
                proc.wait(timeout=300)
            finally:
                if proc.poll() is None:  # never leave it behind, even when this script fails
                    proc.kill()
                    proc.wait()
        result.exit_code = proc.returncode
        result.output = "".join(output)
        result.traceback = TRACEBACK in result.output
        result.orphans = _survivors(family, self.orphan_grace)
        _end(family)
        result.left_before = self.leftovers()
        cleaned = self.cleanup()
        if cleaned.returncode != 0 or TRACEBACK in cleaned.stdout + cleaned.stderr:
            result.left_after.append(f"cleanup exited {cleaned.returncode}: "
                                     f"{(cleaned.stdout + cleaned.stderr).strip()[-300:]}")
        result.left_after += self.leftovers()
        self.heal()
        return result

    def gameday_kill(self, reports: Path, kill_after_applied_s: float = 1.0) -> Run:
        """SIGKILL ``chaosgate gameday`` once its first fault is applied; what survived."""
        result = Run("gameday", signal.SIGKILL, kill_after_applied_s)
        ledger = self.work / "gameday-ledger.jsonl"
        env = {**os.environ, "CHAOSGATE_LEDGER": str(ledger)}
        cmd = [sys.executable, "-m", "chaosgate.cli", "gameday", "--target", str(self.target),
               "--suite", str(ROOT / "scenarios"), "-k", "partition", "--repeat", "2",
               "--reports-dir", str(reports)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True, env=env, cwd=ROOT)
        family: list[Identity] = []
        with _reading(proc) as output:
            try:
                deadline = time.monotonic() + 240
                while not any(e.state == "applied" for e in Ledger(ledger).open_entries()):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        result.left_after.append("the game day never applied a fault")
                        break
                    time.sleep(0.2)
                time.sleep(kill_after_applied_s)
                family = _family(proc.pid)
                killed_at = time.time()
                result.signalled = proc.poll() is None
                proc.kill()
                proc.wait()
                # before the output is drained: a surviving child holds the pipe open
                result.orphans = _survivors(family, self.orphan_grace)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        result.exit_code = proc.returncode
        result.output = "".join(output)
        time.sleep(ORPHAN_GRACE_S)  # a surviving child would open its next fault now
        _end(family)
        late = [e for e in Ledger(ledger).entries().values() if e.t_open > killed_at]
        result.late = [f"fault {e.fault} {e.id} opened {e.t_open - killed_at:.1f} s after "
                       "the kill" for e in late]
        tortured, self.ledger = self.ledger, ledger
        try:
            result.left_before += self.leftovers()
            cleaned = self.cleanup()
            if cleaned.returncode != 0:
                result.left_after.append(f"cleanup exited {cleaned.returncode}")
            result.left_after += self.leftovers()
        finally:
            self.ledger = tortured
        self.heal()
        return result


# -- processes ---------------------------------------------------------------------------------


def _family(pid: int) -> list[Identity]:
    """``pid`` and its descendants, by identity, now."""
    table = process_table()
    found = [identify(p) for p in {pid, *descendants([pid], table)}]
    return [i for i in found if i is not None]


def _wait_then_snapshot(proc: subprocess.Popen[str], delay: float) -> list[Identity]:
    """Sleep ``delay`` s, snapshotting the command's family as it grows; the snapshot."""
    seen: dict[int, Identity] = {}
    deadline = time.monotonic() + delay
    while True:
        for identity in _family(proc.pid):
            seen.setdefault(identity.pid, identity)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            return list(seen.values())
        time.sleep(min(0.05, remaining))


def _survivors(family: Sequence[Identity], grace: float) -> list[str]:
    """Members of ``family`` still alive (the same processes) ``grace`` s from now."""
    deadline = time.monotonic() + grace
    while True:
        stats = [(i, read_stat(i.pid)) for i in family]
        alive = [(i, s) for i, s in stats if s is not None and i.matches(s)]
        if not alive or time.monotonic() >= deadline:
            return [f"pid {i.pid} ({s.comm})" for i, s in alive if s is not None]
        time.sleep(0.1)


def _end(family: Sequence[Identity], grace: float = 60.0) -> None:
    """SIGTERM what survives of a family this script started (its faults get reverted),
    then SIGKILL what is still there after ``grace`` s."""
    for identity in family:
        signal_identity(identity, signal.SIGTERM)
    if _survivors(family, grace):
        for identity in family:
            signal_identity(identity, signal.SIGKILL)


@contextlib.contextmanager
def _reading(proc: subprocess.Popen[str]) -> Iterator[list[str]]:
    """Collect ``proc``'s output in a thread (a full pipe must never block it)."""
    import threading

    chunks: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            chunks.append(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield chunks
    finally:
        thread.join(timeout=30)


def _chaosgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chaosgate.cli", *args], capture_output=True,
                          text=True, timeout=300)


# -- the plan and the summary ------------------------------------------------------------------


def plan(runs: int, rng: random.Random, earliest: float = 0.0
         ) -> list[tuple[str, signal.Signals, float]]:
    """``runs`` (case, signal, delay) triples: every case and signal about equally often,
    delays from ``earliest`` to :data:`LATEST_SIGNAL_S` s."""
    cases, out = sorted(CASES), []
    for n in range(runs):
        case = cases[n % len(cases)]
        sig = SIGNALS[(n // len(cases)) % len(SIGNALS)]
        out.append((case, sig, round(rng.uniform(earliest, LATEST_SIGNAL_S), 3)))
    rng.shuffle(out)
    return out


def summary(results: Sequence[Run], orphan_grace: float = ORPHAN_GRACE_S) -> str:
    """The figures: runs, signals landed, exit codes, leftovers, orphans, tracebacks."""
    lines = [f"runs: {len(results)} ({sum(r.signalled for r in results)} signalled "
             "before they ended)"]
    codes = collections.Counter((r.sig.name, r.exit_code) for r in results if r.signalled)
    lines.append("exit codes after the signal: " + ", ".join(
        f"{sig} -> {code}: {n}" for (sig, code), n in sorted(codes.items(), key=str)))
    before = [r for r in results if r.left_before and r.sig != signal.SIGKILL]
    killed = [r for r in results if r.left_before and r.sig == signal.SIGKILL]
    lines += [
        f"leftovers right after SIGINT/SIGTERM: {len(before)} runs",
        f"leftovers right after SIGKILL (cleanup's job): {len(killed)} runs",
        f"leftovers after chaosgate cleanup: {sum(bool(r.left_after) for r in results)} runs",
        f"orphans (alive {orphan_grace:g} s after their owner ended): "
        f"{sum(bool(r.orphans) for r in results)} runs",
        f"faults opened after a SIGKILL: {sum(bool(r.late) for r in results)} runs",
        f"tracebacks: {sum(r.traceback for r in results)} runs",
        f"killed by SIGTERM in Python's start-up, before chaosgate's first line (the shell "
        f"sees 143, nothing touched): {sum(r.killed_starting for r in results)} runs",
        f"unexpected exit codes: {sum(r.bad_exit for r in results)} runs",
    ]
    for r in results:
        problems = r.left_after + r.orphans + r.late + (["traceback"] if r.traceback else [])
        problems += [f"exit {r.exit_code}"] if r.bad_exit else []
        problems += r.left_before if r.sig != signal.SIGKILL else []
        if problems:
            lines.append(f"  {r.case} {r.sig.name} at {r.delay:.2f} s: {'; '.join(problems)}")
    return "\n".join(lines)


def failures(results: Sequence[Run]) -> list[str]:
    """What must never happen, one line per run that did it (empty: all is well)."""
    out = []
    for r in results:
        problems = r.left_after + r.orphans + r.late
        problems += ["traceback"] if r.traceback else []
        problems += [f"exit {r.exit_code}"] if r.bad_exit else []
        if r.sig != signal.SIGKILL:
            problems += r.left_before  # only a SIGKILLed command may leave cleanup work
        if problems:
            out.append(f"{r.case} {r.sig.name} at {r.delay:.2f} s (exit {r.exit_code}): "
                       + "; ".join(problems) + "\n" + r.output[-2000:])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--base-port", type=int, default=29000)
    parser.add_argument("--gameday-kills", type=int, default=1)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {seed}: {args.runs} fault runs, {args.gameday_kills} game-day SIGKILL(s)")
    from chaosgate.targets import dump_target, render_sandbox_target

    results: list[Run] = []
    with temporary_sandbox(args.base_port, prefix="chaosgate-torture-",
                           log=lambda m: print(f"  sandbox: {m}", file=sys.stderr)) as manager:
        work = manager.topo.state_dir / "torture"
        work.mkdir()
        target = work / "target.yaml"
        dump_target(render_sandbox_target(manager.topo), target)
        torture = Torture(manager, target, work)
        started = time.monotonic()
        for n, (case, sig, delay) in enumerate(plan(args.runs, random.Random(seed)), 1):
            result = torture.run(case, sig, delay)
            results.append(result)
            print(f"[{n}/{args.runs} {time.monotonic() - started:.0f} s] {case} "
                  f"{sig.name} at {delay:.2f} s -> exit {result.exit_code}"
                  + (" PROBLEM" if failures([result]) else ""), flush=True)
        for _ in range(args.gameday_kills):
            results.append(torture.gameday_kill(work / "reports"))
            print(f"gameday SIGKILL -> orphans {results[-1].orphans or 'none'}", flush=True)
    print(summary(results))
    bad = failures(results)
    for line in bad:
        print("FAILED:", line)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
