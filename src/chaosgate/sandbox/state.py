"""The files ``sandbox up`` leaves in the state folder, and reading them back.

- ``sandbox.json``: the base port and the system, so ``sandbox status``,
  ``down`` and a second ``up`` find the same sandbox from ``--state-dir`` alone;
- ``target.yaml``: the target file of the running sandbox;
- for a system other than the shop, its data folders beside that target
  (``probes/``, ``loadprofiles/``, ``scenarios/``, ``experiments/``: symbolic
  links to the copies shipped for that system), so the default-folder rule
  (:mod:`chaosgate.paths`: beside the target file, else the shop's shipped
  copies) finds that system's SLO catalogue, locustfile, game days and
  experiments. A folder the user put there is left alone; the links of a
  system the folder ran before are removed.

A folder whose sandbox runs one system is refused for another while it runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..paths import SHIPPED, shipped
from .topology import DEFAULT_BASE_PORT, SYSTEMS, Topology, build_topology

__all__ = ["DEFAULT_BASE_PORTS", "DEFAULT_STATE_DIRS", "SAVED", "saved_topology",
           "write_state"]

SAVED = "sandbox.json"
#: Where each system's sandbox lives by default (relative to the working directory).
DEFAULT_STATE_DIRS = {"shop": ".chaosgate/sandbox", "events": ".chaosgate/events"}
#: Each system's default base port: both can run side by side.
DEFAULT_BASE_PORTS = {"shop": DEFAULT_BASE_PORT, "events": DEFAULT_BASE_PORT + 100}


def saved_topology(state_dir: str | None, base_port: int | None,
                   system: str | None) -> Topology:
    """The topology that options name, completed from the state folder's ``sandbox.json``.

    ``system`` defaults to the saved one, else the shop; ``state_dir`` to the
    system's default folder; ``base_port`` to the saved one, else the system's
    default. ValueError for a base port or system out of range.
    """
    chosen = system
    root = Path(state_dir or DEFAULT_STATE_DIRS[system or "shop"]).resolve()
    saved: dict[str, object] = {}
    if (root / SAVED).exists():
        try:
            saved = dict(json.loads((root / SAVED).read_text()))
        except (OSError, ValueError, TypeError):
            saved = {}
    if chosen is None:
        chosen = str(saved.get("system", "shop"))
    if chosen not in SYSTEMS:
        raise ValueError(f"system {chosen!r} is not one of the sandbox's: {', '.join(SYSTEMS)}")
    _refuse_another_running(root, saved, chosen)
    if base_port is None and saved.get("system", "shop") == chosen and "base_port" in saved:
        base_port = int(str(saved["base_port"]))
    return build_topology(root, base_port or DEFAULT_BASE_PORTS[chosen], chosen)


#: Where the links this module makes point to, by folder name.
_SHIPPED_FOLDERS = {name: {shipped(name, system) for system in SYSTEMS} for name in SHIPPED}


def _refuse_another_running(root: Path, saved: dict[str, object], system: str) -> None:
    """UsageError when the state folder's sandbox runs another system right now."""
    other = str(saved.get("system", "shop"))
    if other == system or "base_port" not in saved:
        return
    from ..clients.supervisor import SupervisorClient
    from ..exceptions import UsageError

    running = build_topology(root, int(str(saved["base_port"])), other)
    if SupervisorClient(running.supervisor_url, timeout=2).alive():
        raise UsageError(
            f"the state folder {root} runs the {other} sandbox (base port "
            f"{saved['base_port']}), not {system}. Fix: give the {system} sandbox its own "
            f"--state-dir (its default: {DEFAULT_STATE_DIRS[system]}), or `chaosgate sandbox "
            f"down --state-dir {root}` first")


def write_state(topo: Topology) -> Path:
    """Write ``sandbox.json``, ``target.yaml`` and the system's data folders; the target
    file's path."""
    from ..targets import dump_target
    from .target import render_sandbox_target

    topo.state_dir.mkdir(parents=True, exist_ok=True)
    (topo.state_dir / SAVED).write_text(
        json.dumps({"base_port": topo.ports.base, "system": topo.system}) + "\n")
    target_file = topo.state_dir / "target.yaml"
    dump_target(render_sandbox_target(topo), target_file)
    for name in SHIPPED:
        link = topo.state_dir / name
        if link.is_symlink() and link.resolve() in _SHIPPED_FOLDERS[name]:
            link.unlink()  # ours (another system's, if the folder ran one before)
        if topo.system != "shop" and not link.exists():
            link.symlink_to(shipped(name, topo.system), target_is_directory=True)
    return target_file
