"""How each front end names a setting, so that a fix hint names an option that exists (pure).

The same setting has a different knob in each front end: the SLO catalogue
is ``--catalog PATH`` for ``chaosgate slo check``, ``--var
chaosgate_catalog=PATH`` (or the configuration key) under ``chaos run``,
and ``GameDayConfig(catalog=...)`` in a pytest game day. A module that
raises an error whose fix is "choose another catalogue" takes the wording
from :func:`option` for the front end that will print it, instead of
spelling one front end's option everywhere.

The same table names the fault and load parameters (``fault.<field>``,
``load.<parameter>``): ``fault.latency_ms`` is ``--latency MS`` for
``chaosgate fault latency``, the action's ``latency_ms`` argument under
``chaos run``, and the fault spec's ``latency_ms`` in a pytest game day
(``GameDayConfig(fault=...)``, ``chaos_fault(...)``). The checks of fault
specs, pod selection, network sides and load parameters take the front
end (``front_end=...``) and word their fixes from here (``pass --latency at
most 5000``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

__all__ = ["FRONT_ENDS", "FrontEnd", "option", "settings"]

FrontEnd = Literal["chaosgate", "pytest", "chaos run"]
FRONT_ENDS: tuple[FrontEnd, ...] = get_args(FrontEnd)

#: setting -> front end -> how a user of that front end sets it
_SETTINGS: Mapping[str, Mapping[FrontEnd, str]] = {
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
    "force": {"chaosgate": "chaosgate gameday --force",
              "pytest": "chaosgate gameday --force, pytest --chaos-force",
              "chaos run": "--var chaosgate_force=true (or CHAOSGATE_FORCE=true)"},
}


def _fault(name: str, cli: str) -> Mapping[FrontEnd, str]:
    """A fault spec field: its ``chaosgate fault`` option, the action argument of the same
    name (chaosgate.ctk.actions), the spec key in a game day or ``chaos_fault``."""
    return {"chaosgate": cli, "chaos run": f"the action's {name} argument",
            "pytest": f"the fault spec's {name}"}


_FAULT_OPTIONS: Mapping[str, Mapping[FrontEnd, str]] = {
    f"fault.{name}": _fault(name, cli) for name, cli in (
        ("duration", "--duration"), ("qty", "--qty"), ("percent", "--percent"),
        ("latency_ms", "--latency"), ("jitter_ms", "--jitter"),
        ("memory_mb", "--memory-mb"), ("cpu_workers", "--workers"),
        ("mode", "--mode"), ("direction", "--direction"), ("method", "--method"),
        ("selector", "--selector"), ("peer_selector", "--peer-selector"),
        ("dependency", "--dependency"), ("links", "--link"))
}

#: load parameter -> front end -> how it is set: ``chaosgate load run``, the
#: ``chaosgate.ctk.controls.load`` control's arguments, ``chaos_load(...)`` or a game day.
_LOAD_OPTIONS: Mapping[str, Mapping[FrontEnd, str]] = {
    "load.duration": {"chaosgate": "--duration",
                      "chaos run": "the load control's duration argument",
                      "pytest": "chaos_load's duration (a game day's load lasts warmup + hold "
                                "+ heal_timeout + observe + 2 x max_extension + 30 s)"},
    "load.rate": {"chaosgate": "--rate", "chaos run": "the load control's rate argument",
                  "pytest": "GameDayConfig(rate=N) or chaos_load(rate=N)"},
    "load.users": {"chaosgate": "--users",
                   "chaos run": "users in the load profile (the load control's profile "
                                "argument)",
                   "pytest": "chaos_load(users=N)"},
    "load.workers": {"chaosgate": "--workers",
                     "chaos run": "no workers (the load control runs one Locust process)",
                     "pytest": "chaos_load(workers=N)"},
    "load.expect_workers": {"chaosgate": "--expect-workers",
                            "chaos run": "the load control's expect_workers argument",
                            "pytest": "GameDayConfig(expect_workers=N)"},
    "load.request_timeout": {"chaosgate": "--request-timeout",
                             "chaos run": "the load control's request_timeout argument",
                             "pytest": "chaos_load(request_timeout=S)"},
}

#: every setting and parameter -> front end -> wording
_OPTIONS: Mapping[str, Mapping[FrontEnd, str]] = {**_SETTINGS, **_FAULT_OPTIONS,
                                                   **_LOAD_OPTIONS}


def option(setting: str, front_end: FrontEnd) -> str:
    """How a user of ``front_end`` sets ``setting`` (``target``, ``ledger``, ``catalog``,
    ``reports``, ``seed``, ``force``, ``fault.<field>``, ``load.<parameter>``), e.g.
    ``option("catalog", "chaos run")`` -> ``"--var chaosgate_catalog=PATH (or
    CHAOSGATE_CATALOG)"``, ``option("fault.qty", "chaos run")`` -> ``"the action's qty
    argument"``."""
    return _OPTIONS[setting][front_end]


def settings() -> tuple[str, ...]:
    """Every setting and parameter :func:`option` words, sorted (for checks of the table)."""
    return tuple(sorted(_OPTIONS))
