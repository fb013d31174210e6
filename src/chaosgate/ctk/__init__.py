"""chaosgate as a Chaos Toolkit extension: actions, probes and controls.

- :mod:`.actions`: ``kill_pods``, ``partition_network``/``heal_network``,
  ``add_latency``/``remove_latency``, ``failover_database``/``recover_database``,
  ``stress``/``freeze``/``end_stress``, ``revert_faults``;
- :mod:`.probes`: ``slo_met``, ``availability``, ``p95_latency``,
  ``recovery_time``, ``error_budget_burn``, ``pods_ready``, ``faults_applied``;
- :mod:`.controls`: ``ledger``, ``load``, ``slo``, ``allure``.

Every activity takes ``configuration`` and ``secrets`` as Chaos Toolkit
passes them; the target file comes from the ``chaosgate_target``
configuration key (:mod:`.config`). ``chaos discover chaosgate --no-install``
lists the activities with their documentation (:func:`discover`), and
describes the configured target (never a secret).
"""

from __future__ import annotations

from typing import Any

from chaoslib.discovery.discover import (
    discover_actions,
    discover_probes,
    initialize_discovery_result,
)
from chaoslib.types import Discovery

from .. import __version__
from ..report.redact import redact_obj
from .config import settings_from

__all__ = ["__version__", "describe_target", "discover"]


def describe_target() -> dict[str, Any]:
    """What the configured target (``$CHAOSGATE_TARGET``, else the default) describes."""
    from ..targets import load_target

    path = settings_from(None).target
    try:
        target = load_target(path)
    except Exception as exc:
        return {"target_file": str(path), "error": str(exc)}
    described: dict[str, Any] = redact_obj({
        "target_file": str(path), "name": target.name, "platform": target.platform.type,
        "ingress": target.ingress_url, "prometheus": target.prometheus.url,
        "namespace": target.namespace,
        "services": {s.name: str(s.selector) for s in target.services},
        "links": [link.name for link in target.links],
        "dependencies": [d.name for d in target.dependencies],
        "database": None if target.database is None else target.database.type,
    })
    return described


def discover(discover_system: bool = True) -> Discovery:
    """Chaos Toolkit discovery: chaosgate's actions and probes (and the target, if asked)."""
    discovery = initialize_discovery_result("chaosgate", __version__, "chaosgate")
    discovery["activities"].extend(discover_actions("chaosgate.ctk.actions"))
    discovery["activities"].extend(discover_probes("chaosgate.ctk.probes"))
    if discover_system:
        discovery["system"] = describe_target()
    return discovery
