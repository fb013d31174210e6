"""Load generation: Locust always runs as a subprocess (never imported here).

Harness side (safe to import anywhere; none of it imports locust):

- :func:`run_load` / :class:`LoadSession` (:mod:`.runner`): run a profile,
  locally or as a master with workers, bounded in time, with a progress
  display; the result is a :class:`LoadRun` (:mod:`.run`);
- :class:`LoadSpec` (:mod:`.command`): what to run; :func:`spec_for_target`
  fills it in from a target file;
- :mod:`.stats`: exact counts and percentiles from the request log;
- :mod:`.profiles`: .conf files and the shapes' arithmetic;
- :mod:`.requestlog`: the request log's record format.

Locust side (imported only inside the Locust subprocess; guarded):
:mod:`.users`, :mod:`.shapes`, :mod:`.recorder`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .command import LoadSpec
    from .profiles import Profile, find_profile, read_profile
    from .requestlog import RequestRecord, read_request_log
    from .run import Checkout, LoadRun
    from .runner import LoadSession, run_load, spec_for_target
    from .stats import LoadStats, RouteStats, summarize

__all__ = [
    "Checkout",
    "LoadRun",
    "LoadSession",
    "LoadSpec",
    "LoadStats",
    "Profile",
    "RequestRecord",
    "RouteStats",
    "find_profile",
    "read_profile",
    "read_request_log",
    "run_load",
    "spec_for_target",
    "summarize",
]

_HOMES = {
    "LoadSpec": "command", "Profile": "profiles", "find_profile": "profiles",
    "read_profile": "profiles", "RequestRecord": "requestlog", "read_request_log": "requestlog",
    "Checkout": "run", "LoadRun": "run", "LoadSession": "runner", "run_load": "runner",
    "spec_for_target": "runner", "LoadStats": "stats", "RouteStats": "stats",
    "summarize": "stats",
}


def __getattr__(name: str) -> Any:
    """Import the public API lazily, so the Locust side does not load the harness's."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
