"""What a Kubernetes target may ask for, checked when the file is read. Pure: no I/O.

The Kubernetes platform cuts and slows a link in one of two ways:

- through the fault proxy (any server of the Toxiproxy HTTP API) when the
  target declares ``faultproxy`` and the link is one of its proxies: the
  link's ``proxy:`` names it, or else a proxy of the link's own name on the
  server (decided at plan time, from ``GET /proxies``);
- otherwise with Chaos Mesh NetworkChaos or NetworkPolicies, which act on
  pods chosen by label: both ends of such a link must be services of the
  target.

:func:`check_kubernetes_target` refuses, naming the field and the fix, what
only the target file decides and the platform cannot do, so ``chaosgate
validate`` and every front end (they all read the file through
:func:`chaosgate.targets.load_target`) refuse it before anything is touched:

- ``database.type: patroni`` (failover on Kubernetes is CloudNativePG's or
  RDS's);
- a CloudNativePG cluster in a namespace ``safety.namespaces`` does not
  allow;
- a link's ``proxy:`` without a ``faultproxy``;
- a link whose end is not a service, when no ``faultproxy`` could front it.

What depends on the cluster (is Chaos Mesh served?) or on the fault proxy
(does it have the proxy?) is decided when a fault is planned, still before
anything is written or touched.
"""

from __future__ import annotations

from ..exceptions import TargetError
from ._model import Target

__all__ = ["check_kubernetes_target"]


def check_kubernetes_target(target: Target) -> None:
    """TargetError for the first thing ``target`` asks that Kubernetes cannot do."""
    db = target.database
    if db is not None and db.type == "patroni":
        raise TargetError(
            target.source, "database.type",
            "Patroni failover is not supported on Kubernetes (chaosgate fails over "
            "CloudNativePG clusters and Amazon RDS/Aurora there)",
            "use `type: cloudnativepg` or `type: rds`, or remove the database block (no other "
            "fault needs it; links to the database's pods can name a service that selects "
            "them)")
    if db is not None and db.type == "cloudnativepg" and db.namespace is not None \
            and not target.safety.allows_namespace(db.namespace):
        raise TargetError(
            target.source, "safety.namespaces",
            f"namespace {db.namespace!r} of the CloudNativePG cluster {db.cluster} "
            f"(database.namespace) is not allowed ({', '.join(target.safety.namespaces)}), so "
            "no failover could run",
            f"add {db.namespace} to safety.namespaces, or correct database.namespace")
    services = {s.name for s in target.services}
    for i, link in enumerate(target.links):
        if link.declares_proxy and target.faultproxy_url is None:
            raise TargetError(
                target.source, f"links[{i}].proxy",
                f"link {link.name!r} names fault proxy proxy {link.proxy!r} but the target "
                "declares no fault proxy",
                "add `faultproxy: {url: http://<toxiproxy host>:8474}` (any server of the "
                "Toxiproxy HTTP API), or remove `proxy:` to fault the link with Chaos Mesh or "
                "NetworkPolicies")
        if target.faultproxy_url is not None:
            continue  # the fault proxy may front it: known once its proxies are listed
        for key, end in (("from", link.source), ("to", link.destination)):
            if end not in services:
                raise TargetError(
                    target.source, f"links[{i}].{key}",
                    f"{end!r} is not a service, so it has no pods to select; Kubernetes faults "
                    "a link that no fault proxy fronts with Chaos Mesh or NetworkPolicies, "
                    "which need pods on both ends",
                    f"add a service {end!r} with the label selector of its pods, or front the "
                    "link with a Toxiproxy: `faultproxy: {url: ...}` and this link's `proxy: "
                    "<proxy name>`")
