"""How each front end names a setting, so that a fix hint names an option that exists (pure).

The same setting has a different knob in each front end: the SLO catalogue
is ``--catalog PATH`` for ``chaosgate slo check``, ``--var
chaosgate_catalog=PATH`` (or the configuration key) under ``chaos run``,
and ``GameDayConfig(catalog=...)`` in a pytest game day. A module that
raises an error whose fix is "choose another catalogue" takes the wording
from :func:`option` for the front end that will print it, instead of
spelling one front end's option everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

__all__ = ["FRONT_ENDS", "FrontEnd", "option"]

FrontEnd = Literal["chaosgate", "pytest", "chaos run"]
FRONT_ENDS: tuple[FrontEnd, ...] = get_args(FrontEnd)

#: setting -> front end -> how a user of that front end sets it
_OPTIONS: Mapping[str, Mapping[FrontEnd, str]] = {
    "target": {"chaosgate": "--target FILE", "pytest": "--chaos-target FILE",
               "chaos run": "--var chaosgate_target=FILE (or CHAOSGATE_TARGET)"},
    "ledger": {"chaosgate": "--ledger FILE (or CHAOSGATE_LEDGER)",
               "pytest": "--chaos-ledger FILE (or CHAOSGATE_LEDGER)",
               "chaos run": "--var chaosgate_ledger=FILE (or CHAOSGATE_LEDGER)"},
    "catalog": {"chaosgate": "--catalog PATH", "pytest": "GameDayConfig(catalog=PATH)",
                "chaos run": "--var chaosgate_catalog=PATH (or CHAOSGATE_CATALOG)"},
    "reports": {"chaosgate": "--reports-dir DIR", "pytest": "--chaos-results FILE",
                "chaos run": "--var chaosgate_reports=DIR (or CHAOSGATE_REPORTS)"},
    "seed": {"chaosgate": "--seed N", "pytest": "GameDayConfig(seed=N)",
             "chaos run": "--var chaosgate_seed=N (or CHAOSGATE_SEED)"},
}


def option(setting: str, front_end: FrontEnd) -> str:
    """How a user of ``front_end`` sets ``setting`` (``target``, ``ledger``, ``catalog``,
    ``reports``, ``seed``), e.g. ``option("catalog", "chaos run")`` ->
    ``"--var chaosgate_catalog=PATH (or CHAOSGATE_CATALOG)"``."""
    return _OPTIONS[setting][front_end]
