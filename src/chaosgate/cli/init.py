"""``chaosgate init``: scaffold a chaosgate project for your own system in a folder.

Writes, from the templates shipped in ``chaosgate/data/init``, a target file
(``target.yaml``, a Kubernetes system with placeholders that ``chaosgate
validate`` accepts, dry run on), an SLO catalogue (``probes/slos.yaml``), a
locustfile and its load profile (``locustfile.py``, ``loadprofiles/open.conf``),
one Chaos Toolkit experiment (``experiments/kill-a-pod.yaml``) and one
game-day scenario (``scenarios/test_kill_a_pod.py``). The layout is the one
the default folders are found in (:mod:`chaosgate.paths`): everything beside
``target.yaml``. Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from ._common import console

__all__ = ["SCAFFOLD", "init"]

#: file written (relative to the folder) -> its template in chaosgate/data/init
SCAFFOLD: dict[str, str] = {
    "target.yaml": "target.yaml",
    "probes/slos.yaml": "slos.yaml",
    "locustfile.py": "locustfile.py.tmpl",
    "loadprofiles/open.conf": "open.conf",
    "experiments/kill-a-pod.yaml": "kill-a-pod.yaml",
    "scenarios/test_kill_a_pod.py": "test_kill_a_pod.py.tmpl",
}

_NEXT = """next:
  1. edit target.yaml (names, selectors, Prometheus, ingress), then
     chaosgate validate target.yaml
  2. put your PromQL in probes/slos.yaml, then
     chaosgate slo check --target target.yaml
  3. set safety.dry_run: false in target.yaml when the plans are right, then
     chaos run experiments/kill-a-pod.yaml
     chaosgate gameday --target target.yaml"""


@click.command("init")
@click.argument("folder", default=".", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(folder: str, force: bool) -> None:
    """Scaffold a project for your system in FOLDER (default: the current folder).

    Writes target.yaml, probes/slos.yaml, locustfile.py, loadprofiles/open.conf,
    experiments/kill-a-pod.yaml and scenarios/test_kill_a_pod.py. Exit 2, writing
    nothing, when any of them exists (unless --force).
    """
    from ..exceptions import UsageError
    from ..paths import DATA

    root = Path(folder)
    existing = [name for name in SCAFFOLD if (root / name).exists()]
    if existing and not force:
        raise UsageError(f"{', '.join(str(root / n) for n in existing)}: already "
                         f"exist{'s' if len(existing) == 1 else ''}; nothing was written. "
                         "Fix: run chaosgate init in an empty folder, or pass --force to "
                         "overwrite them")
    templates = DATA / "init"
    created: list[Path] = []  # files and folders this run made, undone if it cannot finish
    for name, template in SCAFFOLD.items():
        destination = root / name
        try:
            missing = [d for d in (destination.parent, *destination.parent.parents)
                       if not d.exists()]
            destination.parent.mkdir(parents=True, exist_ok=True)
            created += reversed(missing)
            destination.write_text((templates / template).read_text(encoding="utf-8"),
                                   encoding="utf-8")
        except OSError as exc:
            for made in reversed(created):
                with contextlib.suppress(OSError):  # undo what can be undone
                    made.rmdir() if made.is_dir() else made.unlink()
            raise UsageError(f"{destination}: cannot be written ({exc.strerror or exc}); "
                             "no new file was kept. Fix: choose a folder you can write "
                             "to") from None
        if name not in existing:
            created.append(destination)
        console.print(f"wrote {destination}")
    console.print(_NEXT)
