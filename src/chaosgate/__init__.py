"""chaosgate: prove, under load, that a system keeps its SLOs when things break."""

from typing import Any

__version__ = "0.1.0"


def discover(discover_system: bool = True) -> dict[str, Any]:
    """Chaos Toolkit's entry point (``chaos discover chaosgate``): see :mod:`chaosgate.ctk`."""
    from .ctk import discover as discover_ctk

    result: dict[str, Any] = discover_ctk(discover_system)
    return result
