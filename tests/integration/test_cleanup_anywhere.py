"""One ledger per target: a ``chaos run`` SIGKILLed mid-fault in one folder is cleaned up by
``chaosgate cleanup --target T`` run from another.

Neither command is told where the ledger is (no ``--ledger``, no
``CHAOSGATE_LEDGER``, no ``chaosgate_ledger``): both use the target's own,
``<state_dir>/ledger.jsonl`` for the sandbox, and the children registry
beside it. A partition experiment (the ledger and load controls, a
partition held for a minute; no steady state: what is under test is the
cleanup, not the shop's latency on a busy machine) runs from a temporary
folder; once the target's ledger shows it applied,
``chaos`` is SIGKILLed. Its Locust must die with it, and cleanup, started
in another folder, must revert the partition and leave no record behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _faults import ensure_healthy, eventually, links_clean, wait_applied, write_target

from chaosgate.clients.children import ChildRegistry
from chaosgate.clients.processes import Identity, read_stat, signal_identity
from chaosgate.faults import Ledger
from chaosgate.faults.ledger import default_ledger_path
from chaosgate.targets import load_target

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

ROOT = Path(__file__).resolve().parents[2]
CHAOS = str(Path(sys.executable).with_name("chaos"))

#: Orders cut from PostgreSQL for a minute under load; killed long before it heals.
EXPERIMENT = {
    "version": "1.0.0", "title": "Orders partitioned from its database, killed mid-fault",
    "description": "The fault a SIGKILLed chaos run leaves behind.",
    "controls": [
        {"name": "chaosgate-ledger",
         "provider": {"type": "python", "module": "chaosgate.ctk.controls.ledger"}},
        {"name": "chaosgate-load",
         "provider": {"type": "python", "module": "chaosgate.ctk.controls.load",
                      "arguments": {"rate": 20, "profile": "open", "warmup": 2,
                                    "duration": 180}}},
    ],
    "method": [
        {"type": "action", "name": "partition-orders-from-postgres",
         "provider": {"type": "python", "module": "chaosgate.ctk.actions",
                      "func": "partition_network",
                      "arguments": {"selector": "app=orders", "dependency": "postgres",
                                    "direction": "both"}},
         "pauses": {"after": 60}},
    ],
}


def _alive(identity: Identity) -> bool:
    return identity.matches(read_stat(identity.pid))


@pytest.mark.timeout(600)
def test_cleanup_from_another_folder_reverts_a_killed_chaos_runs_fault(sandbox, tmp_path):
    target = write_target(sandbox, tmp_path)
    ledger = default_ledger_path(load_target(target))
    assert ledger.parent == sandbox.topo.state_dir.resolve()
    registry = ChildRegistry(ledger.parent / "children")
    started_in, cleaned_from = tmp_path / "experiment-folder", tmp_path / "elsewhere"
    started_in.mkdir()
    cleaned_from.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("CHAOSGATE_LEDGER", "CHAOSGATE_CATALOG", "CHAOSGATE_REPORTS")}
    experiment = tmp_path / "partition.json"
    experiment.write_text(json.dumps(EXPERIMENT))
    ensure_healthy(sandbox)
    before = {e.id for e in Ledger(ledger).open_entries()}
    assert before == set(), "the target's ledger lists an open fault before the test"
    proc = subprocess.Popen(
        [CHAOS, "--log-file", str(started_in / "chaostoolkit.log"), "run",
         "--var", f"chaosgate_target={target}", "--var", f"chaosgate_catalog={ROOT / 'probes'}",
         str(experiment)],
        cwd=started_in, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    children: dict[Identity, str] = {}
    try:
        wait_applied(proc, ledger, 240)
        children = {r.child: r.role for r in registry.records()}
        assert any(role.startswith("Locust") for role in children.values()), children
        proc.kill()
        proc.wait(timeout=30)
        eventually(lambda: not any(_alive(c) for c in children),
                   f"every child ({sorted(children.values())}) to die with chaos", 30)
        [entry] = Ledger(ledger).open_entries()  # nobody was left to revert it
        assert not links_clean(sandbox)
        assert not (started_in / ".chaosgate").exists()
        result = subprocess.run(
            [sys.executable, "-m", "chaosgate.cli", "cleanup", "--target", str(target)],
            cwd=cleaned_from, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"reverted partition {entry.id}" in result.stdout
        assert Ledger(ledger).open_entries() == []
        assert links_clean(sandbox)
        time.sleep(0.5)
        assert registry.records() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in children:
            if _alive(child):
                signal_identity(child, 9)  # only what this run started
        ensure_healthy(sandbox)
