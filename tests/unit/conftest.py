"""Fixtures shared by the unit tests of the Chaos Toolkit front end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosgate.ctk import state
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import dump_target, render_sandbox_target

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A fresh ``chaos run`` state and a configuration naming a target nobody serves."""
    state.reset()
    target = dump_target(render_sandbox_target(build_topology(tmp_path / "sb", 28790)),
                         tmp_path / "target.yaml")
    yield {"chaosgate_target": str(target), "chaosgate_ledger": str(tmp_path / "ledger.jsonl"),
           "chaosgate_catalog": str(ROOT / "probes"), "chaosgate_reports": str(tmp_path / "r")}
    state.reset()
