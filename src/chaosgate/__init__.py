"""chaosgate: prove, under load, that a system keeps its SLOs when things break.

This module imports nothing: it is the first thing the ``chaosgate`` program
loads, and a signal before :mod:`chaosgate.cli._startup` runs is the
interpreter's (see there).
"""

__version__ = "0.1.0"


def discover(discover_system: bool = True) -> dict[str, object]:
    """Chaos Toolkit's entry point (``chaos discover chaosgate``): see :mod:`chaosgate.ctk`."""
    from .ctk import discover as discover_ctk

    result: dict[str, object] = discover_ctk(discover_system)
    return result
