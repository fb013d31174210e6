"""How fast a stop condition reverts a fault: from the condition becoming true to the revert.

Starts a sandbox of its own, then ``--trips`` times runs ``chaosgate fault
partition --link gateway-catalog --duration 60 --stop-when COND`` where
COND is true while that link is cut (the fault makes it true itself). For
each trip it reads, independently of chaosgate:

- when the condition became true *in Prometheus*: the timestamp of the
  first scraped sample of ``chaosgate_faultproxy_proxy_enabled`` for the link
  that is 0 (before it, no stop condition could have seen anything);
- when the revert returned: the ledger's ``t_reverted``.

and prints per trip and in all (median, max) the time between the two, the
time from the fault's application to the revert, and that every run exited
4 with the ledger empty. Usage: ``.venv/bin/python bench/stopconditions.py
[--trips 10] [--base-port 29600]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from chaosgate.clients.prometheus import PrometheusClient  # noqa: E402
from chaosgate.faults import Ledger  # noqa: E402
from chaosgate.sandbox.manager import SandboxManager, temporary_sandbox  # noqa: E402
from chaosgate.targets import dump_target, render_sandbox_target  # noqa: E402

LINK = "gateway-catalog"
CONDITION = (f'chaosgate_faultproxy_proxy_enabled{{proxy="{LINK}"}} == 0 or '
             f'chaosgate_faultproxy_toxics_active{{proxy="{LINK}"}} > 0')


def first_true_sample(prom: PrometheusClient, start: float, end: float) -> float | None:
    """The timestamp of the first scrape that saw the link disabled in ``[start, end]``."""
    series = prom.raw_samples(f'chaosgate_faultproxy_proxy_enabled{{proxy="{LINK}"}}',
                              start, end)
    zeros = sorted(t for s in series for t, v in s.samples if v == 0)
    return zeros[0] if zeros else None


def trip(manager: SandboxManager, target: Path, ledger: Path) -> dict[str, float | int]:
    """One tripped partition: exit code and the measured times (seconds)."""
    before = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "chaosgate.cli", "fault", "partition", "--target", str(target),
         "--link", LINK, "--duration", "60", "--stop-when", CONDITION, "--ledger", str(ledger)],
        capture_output=True, text=True, timeout=300)
    entry = max(Ledger(ledger).entries().values(), key=lambda e: e.t_open)
    time.sleep(2.5)  # the last scrapes land
    true_at = first_true_sample(manager.prometheus, before, time.time())
    if entry.t_reverted is None or entry.t_applied is None or true_at is None:
        raise SystemExit(f"incomplete trip (exit {proc.returncode}): {proc.stderr[-800:]}")
    return {"exit": proc.returncode, "open": len(Ledger(ledger).open_entries()),
            "true_to_revert": entry.t_reverted - true_at,
            "applied_to_revert": entry.t_reverted - entry.t_applied,
            "applied_to_true": true_at - entry.t_applied}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=10)
    parser.add_argument("--base-port", type=int, default=29600)
    args = parser.parse_args(argv)
    rows = []
    with temporary_sandbox(args.base_port, prefix="chaosgate-stopbench-",
                           log=lambda m: print(f"  sandbox: {m}", file=sys.stderr)) as manager:
        work = manager.topo.state_dir / "stopbench"
        work.mkdir()
        target = work / "target.yaml"
        dump_target(render_sandbox_target(manager.topo), target)
        for n in range(1, args.trips + 1):
            row = trip(manager, target, work / "ledger.jsonl")
            rows.append(row)
            print(f"trip {n:2d}: exit {row['exit']}, condition true "
                  f"{row['applied_to_true']:+.2f} s after the fault was applied, reverted "
                  f"{row['true_to_revert']:.2f} s after it became true "
                  f"({row['applied_to_revert']:.2f} s after the fault), open faults "
                  f"{row['open']}", flush=True)
    delays = [float(r["true_to_revert"]) for r in rows]
    held = [float(r["applied_to_revert"]) for r in rows]
    print(f"\n{len(rows)} trips: condition true -> reverted: median "
          f"{statistics.median(delays):.2f} s, max {max(delays):.2f} s; fault applied -> "
          f"reverted: median {statistics.median(held):.2f} s, max {max(held):.2f} s")
    ok = all(r["exit"] == 4 and r["open"] == 0 for r in rows)
    print("every run exited 4 (aborted) with the ledger empty" if ok else
          "NOT every run exited 4 with the ledger empty")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
