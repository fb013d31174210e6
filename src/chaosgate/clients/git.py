"""The only module that asks git anything: the revision a game day ran against.

``git rev-parse --short HEAD`` in a folder (the target's project folder),
with ``-dirty`` appended when the work tree has uncommitted changes. Bounded
by a timeout; no git, no repository or any failure is "no revision" (None),
never an error: the revision only labels a run in the history.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["revision"]


def _git(folder: Path, *args: str, timeout_s: float) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def revision(folder: Path | str, *, timeout_s: float = 10.0) -> str | None:
    """The short commit of ``folder``'s repository (``-dirty`` with local changes), or None."""
    where = Path(folder)
    head = _git(where, "rev-parse", "--short", "HEAD", timeout_s=timeout_s)
    if not head:
        return None
    status = _git(where, "status", "--porcelain", "--untracked-files=no", timeout_s=timeout_s)
    return head + ("-dirty" if status else "")
