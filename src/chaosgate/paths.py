"""Where chaosgate's default folders are, whatever the working directory.

The SLO catalogue (``probes/``), the load profiles (``loadprofiles/``), the
game-day scenarios (``scenarios/``), the Chaos Toolkit experiments
(``experiments/``) and the reports (``reports/``) are found in this order,
the same in every front end (docs/decisions.md, "Default folders come from
the target file, then the package"):

1. an explicit option, configuration key or environment variable: the path
   as the user wrote it (a relative one from the working directory, as a
   shell reads it);
2. beside the target file: ``<its folder>/<name>``, then ``<the folder
   above>/<name>`` (a project that keeps its targets in ``targets/``, as
   this repository does with ``targets/sandbox.yaml``);
3. the copy shipped in the package, ``chaosgate/data/<name>``.

The sandbox's second system (``chaosgate sandbox up --system events``)
ships its own folders in ``chaosgate/data/events/<name>``
(:func:`shipped` with ``system``); the sandbox links them beside the
target file it writes (``<state_dir>/<name>``), so step 2 finds them.

The working directory is never searched. Reports are written, not read, so
step 3 does not apply: they go to ``reports/`` of the target's project
folder (the first folder of step 2 that holds one of these folders, else
the target file's own folder).

``python -m chaosgate.paths [NAME]`` prints where the shipped folders are
(e.g. to ``chaos run`` a shipped experiment from an installed package).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["DATA", "SHIPPED", "default_folder", "default_reports", "project_folder", "shipped"]

#: The package data: the shop's catalogue, profiles, scenarios and experiments (another
#: sandbox system's in ``DATA/<system>``).
DATA = Path(__file__).resolve().parent / "data"
#: The folders shipped in :data:`DATA`.
SHIPPED = ("probes", "loadprofiles", "scenarios", "experiments")
_PROJECT_MARKS = (*SHIPPED, "reports")


def shipped(name: str, system: str = "shop") -> Path:
    """The packaged copy of folder ``name`` (one of :data:`SHIPPED`): the shop's, or
    that of the sandbox's other ``system`` (``data/<system>/<name>``)."""
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not shipped; shipped: {', '.join(SHIPPED)}")
    folder = DATA / name if system == "shop" else DATA / system / name
    return folder.resolve()  # a checkout: the repository folder the link names


def _beside(target_file: str | Path | None) -> tuple[Path, ...]:
    """The folders searched beside a target file: its own, then the one above."""
    if target_file is None or str(target_file).startswith("<"):  # "<memory>": no file
        return ()
    folder = Path(target_file).absolute().parent
    return (folder, folder.parent)


def default_folder(name: str, target_file: str | Path | None) -> Path:
    """Folder ``name`` beside ``target_file`` (its folder, then the one above), else shipped."""
    for folder in _beside(target_file):
        if (folder / name).is_dir():
            return folder / name
    return shipped(name)


def project_folder(target_file: str | Path | None) -> Path | None:
    """The project a target file belongs to: the first folder beside it that holds one of
    probes/, loadprofiles/, scenarios/, experiments/, reports/; else its own folder.
    None for a target that is not a file."""
    folders = _beside(target_file)
    for folder in folders:
        if any((folder / mark).is_dir() for mark in _PROJECT_MARKS):
            return folder
    return folders[0] if folders else None


def default_reports(target_file: str | Path | None) -> Path:
    """Where reports go by default: ``reports/`` of the target's project folder.

    A target that is not a file (built in memory) has no project folder: its
    reports go to ``reports/`` of the working directory, the one exception.
    """
    project = project_folder(target_file)
    return (project if project is not None else Path.cwd()) / "reports"


def _main(argv: list[str]) -> int:
    """Print the shipped folders (all, or those named); exit 2 naming an unknown one."""
    names = argv or list(SHIPPED)
    unknown = [n for n in names if n not in SHIPPED]
    if unknown:
        print(f"error: {', '.join(unknown)}: not shipped. Fix: name one of "
              f"{', '.join(SHIPPED)}", file=sys.stderr)
        return 2
    for name in names:
        print(shipped(name))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
