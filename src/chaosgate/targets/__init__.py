"""Target files: what chaosgate runs against, loaded into frozen dataclasses.

A target file (schema ``chaosgate/v1``, see ``targets/sandbox.yaml`` and
``targets/kubernetes.example.yaml``) names the platform (the programs of a
supervisord, or a Kubernetes cluster), Prometheus, the ingress, the services and
their label selectors, the network links and dependencies faults can cut,
the database a failover acts on, and the safety limits every fault keeps:
the blast radius, and the upper bounds of fault and load parameters
(:class:`SafetyLimits`: defaults a target may lower, or raise up to
``LIMIT_CEILINGS``).

- :func:`load_target` reads one file; :func:`parse_target` validates plain
  data. Both raise :class:`~chaosgate.exceptions.TargetError` naming the
  file, the dotted field (``links[2].to``), the problem and the fix; one
  error at a time, the first in a fixed order.
- Secrets are never in the file: only environment variable names or file
  paths, resolved by :meth:`PrometheusConfig.credentials` when called.
- :func:`dump_target` writes a document after validating it; the sandbox's
  own target is rendered by :mod:`chaosgate.sandbox.target` (re-exported
  here as ``render_sandbox_target``, imported on first use).
"""

from __future__ import annotations

from typing import Any

from ._files import dump_target, load_target
from ._model import (
    API_VERSION,
    DEFAULT_LIMITS,
    KIND,
    LIMIT_CEILINGS,
    LIMIT_UNITS,
    PROTECTED_NAMESPACES,
    BasicAuth,
    Credentials,
    Database,
    DbMember,
    Dependency,
    Link,
    PlatformConfig,
    Program,
    PrometheusAuth,
    PrometheusConfig,
    RecoveryPoint,
    Safety,
    SafetyLimits,
    SandboxBlock,
    Service,
    SupervisorConfig,
    Target,
    TLSConfig,
)
from ._reader import parse_duration
from ._schema import DEFAULT_STATE_DIR, parse_target
from ._selector import Requirement, Selector, SelectorError
from ._stop import StopCondition, parse_stop_condition

__all__ = [
    "API_VERSION",
    "DEFAULT_LIMITS",
    "DEFAULT_STATE_DIR",
    "KIND",
    "LIMIT_CEILINGS",
    "LIMIT_UNITS",
    "PROTECTED_NAMESPACES",
    "BasicAuth",
    "Credentials",
    "Database",
    "DbMember",
    "Dependency",
    "Link",
    "PlatformConfig",
    "Program",
    "PrometheusAuth",
    "PrometheusConfig",
    "RecoveryPoint",
    "Requirement",
    "Safety",
    "SafetyLimits",
    "SandboxBlock",
    "Selector",
    "SelectorError",
    "Service",
    "StopCondition",
    "SupervisorConfig",
    "TLSConfig",
    "Target",
    "dump_target",
    "load_target",
    "parse_duration",
    "parse_stop_condition",
    "parse_target",
    "render_sandbox_target",
]


def __getattr__(name: str) -> Any:
    """``render_sandbox_target``, from :mod:`chaosgate.sandbox.target` (which imports this
    package, hence on first use)."""
    if name == "render_sandbox_target":
        from ..sandbox.target import render_sandbox_target

        return render_sandbox_target
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
