"""Target files: what chaosgate runs against, loaded into frozen dataclasses.

A target file (schema ``chaosgate/v1``, see ``targets/sandbox.yaml`` and
``targets/kubernetes.example.yaml``) names the platform (the embedded
sandbox or a Kubernetes cluster), Prometheus, the ingress, the services and
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
- :func:`render_sandbox_target` describes a sandbox for any base port;
  :func:`dump_target` writes a document after validating it.
"""

from __future__ import annotations

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
    PrometheusAuth,
    PrometheusConfig,
    Safety,
    SafetyLimits,
    Service,
    Target,
    TLSConfig,
)
from ._reader import parse_duration
from ._sandbox import SANDBOX_NAMESPACE, render_sandbox_target
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
    "SANDBOX_NAMESPACE",
    "BasicAuth",
    "Credentials",
    "Database",
    "DbMember",
    "Dependency",
    "Link",
    "PlatformConfig",
    "PrometheusAuth",
    "PrometheusConfig",
    "Requirement",
    "Safety",
    "SafetyLimits",
    "Selector",
    "SelectorError",
    "Service",
    "StopCondition",
    "TLSConfig",
    "Target",
    "dump_target",
    "load_target",
    "parse_duration",
    "parse_stop_condition",
    "parse_target",
    "render_sandbox_target",
]
