"""The Kubernetes platform: faults on pods and their traffic in a real cluster.

- pod kill: delete with grace period 0 and a ``uid`` precondition (only the
  incarnation that was selected dies); pods without a controlling owner are
  refused (nothing would bring them back);
- partition and latency of links a declared fault proxy fronts (the
  target's ``faultproxy``: any server of the Toxiproxy HTTP API; a link's
  ``proxy:``, else a proxy of the link's name there): the proxy's toxics and
  enabled flag, through :mod:`.sandbox_net` exactly as on the sandbox;
- partition otherwise: Chaos Mesh NetworkChaos ``partition`` when its CRDs
  are served, else NetworkPolicies that isolate one side from the other (see
  :mod:`.k8s_manifests`); the mechanism is fixed at plan time and recorded
  in the change, so a revert uses what the apply used;
- latency otherwise: Chaos Mesh NetworkChaos ``delay`` (there is no
  NetworkPolicy equivalent: without Chaos Mesh, a :class:`UsageError` says so);
- stress: Chaos Mesh StressChaos (cpu or memory) on exactly the chosen pods.

Every namespace a fault touches must be allowed by the target's safety
block. Reverts delete what the change names; a 404 is success.

A change's data (:class:`KubeObjectsData`: the objects it creates) is private
to this module; a change through the fault proxy carries :mod:`.sandbox_net`'s
data instead (:func:`.sandbox_net.is_link_change`) and names the proxies as
its ``subjects``. Otherwise its ``subjects`` name pods as ``<namespace>/<name>``,
the form Chaos Mesh's container records (and so
:meth:`KubernetesPlatform.moments`) use: the pods on the selected side of a
network fault (the created objects' names when no pod matches), or the
stressed pods.

What only the target file decides (Patroni, a link's ``proxy:`` without a
fault proxy, a link with an end that is no service and no fault proxy to
front it) is refused when the file is read
(:mod:`chaosgate.targets._kubernetes`); the refusals here depend on the
cluster or the fault proxy.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from ..clients.kubernetes import KubeApi, api_client
from ..clients.toxiproxy import ToxiproxyClient
from ..exceptions import UsageError
from ..targets import Selector, Target
from . import k8s_manifests as mf
from . import sandbox_net as net
from .base import (
    Change,
    DatabaseAdapter,
    FaultKind,
    LatencySpec,
    Moment,
    NetworkScope,
    PartitionSpec,
    Platform,
    PodRef,
    ProbeResult,
    StressSpec,
)

__all__ = ["CHAOS_MESH", "KubeObjectsData", "KubernetesPlatform", "kubernetes_database"]

#: Chaos Mesh's API group/version and the resources chaosgate creates there.
CHAOS_MESH = ("chaos-mesh.org", "v1alpha1")
_CHAOS_PLURALS = {"NetworkChaos": "networkchaos", "StressChaos": "stresschaos"}
_CNI_NOTE = "enforcement depends on the cluster's CNI supporting NetworkPolicy"
#: The kinds of change this platform plans (and so whose data it reads).
_PLANNED = (FaultKind.PARTITION, FaultKind.LATENCY, FaultKind.STRESS)


def _pod_ref(pod: dict[str, Any]) -> PodRef:
    meta, status = pod.get("metadata", {}), pod.get("status") or {}
    ready = not meta.get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or [])
    return PodRef(name=meta["name"], namespace=meta["namespace"],
                  labels=dict(meta.get("labels") or {}), ready=bool(ready), uid=meta["uid"],
                  node=(pod.get("spec") or {}).get("nodeName"))


class KubeObjectsData(TypedDict):
    """The data of a Kubernetes partition, latency or stress :class:`Change`.

    Written by :meth:`KubernetesPlatform.plan_partition`, ``plan_latency`` and
    ``plan_stress``; read only here (apply creates the objects, revert
    deletes them by kind, namespace and name).
    """

    objects: list[mf.Manifest]  # NetworkPolicy, NetworkChaos or StressChaos bodies


def _data(change: Change) -> KubeObjectsData:
    """``change.data`` as this platform's planners wrote it."""
    return cast(KubeObjectsData, change.data)


def _objects(change: Change) -> list[mf.Manifest]:
    """The objects a change created (none for a pod kill, which the platform never reverts,
    nor for a change through the fault proxy)."""
    if change.kind not in _PLANNED or net.is_link_change(change):
        return []
    return list(_data(change)["objects"])


def _pod_subject(pod: dict[str, Any]) -> str:
    """A pod as a change's subject: ``<namespace>/<name>``, as Chaos Mesh records name it."""
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


class KubernetesPlatform:
    """:class:`~chaosgate.platforms.base.Platform` for a Kubernetes cluster."""

    kind = "kubernetes"

    def __init__(self, target: Target, api: KubeApi | None = None) -> None:
        if target.platform.type != "kubernetes":
            raise UsageError(f"{target.source}: platform.type is {target.platform.type}, "
                             "not kubernetes")
        self.target = target
        self.kube = api if api is not None else KubeApi(api_client(target.platform))
        self._chaos_mesh: bool | None = None
        self.proxy = ToxiproxyClient(target.faultproxy_url) if target.faultproxy_url else None
        self.links = net.LinkActuator(self.proxy) if self.proxy is not None else None

    # -- safety and capabilities ------------------------------------------------------

    def check_namespace(self, namespace: str) -> None:
        """UsageError unless the target's safety block allows faults in ``namespace``."""
        if not self.target.safety.allows_namespace(namespace):
            raise UsageError(
                f"namespace {namespace!r} is not allowed by safety.namespaces "
                f"({', '.join(self.target.safety.namespaces)}) of {self.target.source}; "
                "chaosgate will not touch it. Fix: add it to safety.namespaces (kube-system, "
                "kube-public and kube-node-lease only by their exact name)")

    def chaos_mesh(self) -> bool:
        """Whether Chaos Mesh's NetworkChaos and StressChaos are served (asked once)."""
        if self._chaos_mesh is None:
            served = self.kube.served_resources(*CHAOS_MESH)
            self._chaos_mesh = set(_CHAOS_PLURALS.values()) <= served
        return self._chaos_mesh

    def _need_chaos_mesh(self, what: str) -> None:
        if not self.chaos_mesh():
            raise UsageError(
                f"{what} on Kubernetes needs Chaos Mesh, which {self.kube.host} does not serve "
                "(no chaos-mesh.org/v1alpha1 networkchaos/stresschaos). Fix: install Chaos Mesh "
                "(helm install chaos-mesh chaos-mesh/chaos-mesh -n chaos-mesh "
                "--create-namespace), or run this fault on the sandbox")

    # -- pods -------------------------------------------------------------------------

    def list_pods(self, selector: Selector, namespace: str) -> list[PodRef]:
        """The pods ``selector`` selects in ``namespace``, with readiness, sorted by name."""
        self.check_namespace(namespace)
        pods = [_pod_ref(p) for p in self.kube.list_pods(namespace, str(selector))]
        return sorted(pods, key=lambda p: p.name)

    def kill_pod(self, pod: PodRef) -> None:
        """Delete ``pod`` (its incarnation ``pod.uid`` only) with grace period 0.

        Nothing happens when that incarnation is already gone. A pod with no
        controller (Deployment, StatefulSet, operator) is refused: deleting it
        would remove it for good.
        """
        self.check_namespace(pod.namespace)
        current = self.kube.read_pod(pod.namespace, pod.name)
        if current is None or current["metadata"]["uid"] != pod.uid:
            return
        owners = current["metadata"].get("ownerReferences") or []
        if not any(o.get("controller") for o in owners):
            raise UsageError(f"pod {pod.namespace}/{pod.name} has no controller; deleting it "
                             "would not bring it back. Fix: select pods of a Deployment, "
                             "StatefulSet or operator")
        self.kube.delete_pod(pod.namespace, pod.name, pod.uid)

    def pod_gone(self, pod: PodRef) -> bool:
        """True when no pod named ``pod.name`` with uid ``pod.uid`` exists any more."""
        current = self.kube.read_pod(pod.namespace, pod.name)
        return current is None or current["metadata"]["uid"] != pod.uid

    # -- the fault proxy ----------------------------------------------------------------

    def fronted(self, scope: NetworkScope) -> dict[str, str] | None:
        """The proxies' listen addresses when the fault proxy fronts every link ``scope``
        covers; None when the target has no fault proxy or it fronts none of them.

        UsageError (nothing touched) when it fronts only some of them, or when a link
        that only the fault proxy can carry (a declared ``proxy:``, an end that is no
        service) is not one of its proxies.
        """
        if self.proxy is None:
            return None
        try:
            links = [link for link, _ in net.resolve_links(self.target, scope)]
        except UsageError:
            return None  # no link of the target joins the sides: pods by selector only
        listen = net.listen_addresses(self.proxy)
        services = {s.name for s in self.target.services}
        fronted = [x.name for x in links if x.proxy_name in listen]
        for link in links:
            if link.name not in fronted and (
                    link.declares_proxy or not {link.source, link.destination} <= services):
                i = self.target.links.index(link)
                raise UsageError(
                    f"{self.target.source}: links[{i}]: the fault proxy at {self.proxy.url} has "
                    f"no proxy {link.proxy_name!r} for link {link.name} (it has: "
                    f"{', '.join(sorted(listen)) or 'none'}). Fix: create it there "
                    f"(POST /proxies), or set links[{i}].proxy to the proxy that fronts it")
        if not fronted:
            return None
        if len(fronted) < len(links):
            others = [x.name for x in links if x.name not in fronted]
            raise UsageError(
                f"{scope.describe()}: link(s) {', '.join(fronted)} go through the fault proxy "
                f"at {self.proxy.url}, {', '.join(others)} do not; one fault uses one mechanism. "
                "Fix: fault them separately (name each link)")
        return listen

    def _links(self, change: Change) -> net.LinkActuator:
        """The fault proxy's actuator, for a change planned through it."""
        if self.links is None:
            raise UsageError(
                f"{self.target.source}: faultproxy: {change.kind} {change.fault_id} went through "
                "a fault proxy, but the target declares none. Fix: restore the target's "
                "`faultproxy: {url: ...}` and run chaosgate cleanup again")
        return self.links

    # -- planning ---------------------------------------------------------------------

    def plan_partition(self, spec: PartitionSpec, fault_id: str) -> Change:
        """Links of the fault proxy down or blackholed (:mod:`.sandbox_net`), else a
        NetworkChaos partition (Chaos Mesh) or isolating NetworkPolicies; no side effect.

        Through the fault proxy, a link already down is refused (its revert would
        heal another fault's partition).
        """
        listen = self.fronted(spec.scope)
        if listen is not None:
            change = net.plan_partition(self.target, spec, fault_id, listen, self.kind)
            self._links(change).check_untouched(change)
            return change
        source, peers = self._sides(spec.scope)
        if self.chaos_mesh():
            objects = [mf.network_chaos(mf.object_name(fault_id, f"part-{i}"), fault_id, source,
                                        peer, spec.direction) for i, peer in enumerate(peers)]
            how = "Chaos Mesh NetworkChaos"
        else:
            objects = self._isolation_policies(source, peers, spec.direction, fault_id)
            how = "NetworkPolicy"
        names = ", ".join(f"{o['metadata']['namespace']}/{o['metadata']['name']}"
                          for o in objects)
        return Change(FaultKind.PARTITION, self.kind, fault_id,
                      f"partition {spec.scope.describe()} ({spec.direction}) via {how} {names}",
                      KubeObjectsData(objects=objects), subjects=self._subjects(source, objects))

    def plan_latency(self, spec: LatencySpec, fault_id: str) -> Change:
        """Latency toxics on the fault proxy's links, else a Chaos Mesh NetworkChaos delay
        per peer; UsageError with neither."""
        if spec.latency_ms <= 0 or spec.jitter_ms < 0:
            raise UsageError("latency must be > 0 ms and jitter >= 0 ms")
        listen = self.fronted(spec.scope)
        if listen is not None:
            return net.plan_latency(self.target, spec, fault_id, listen, self.kind)
        source, peers = self._sides(spec.scope)
        self._need_chaos_mesh("added latency")
        objects = [mf.network_chaos(mf.object_name(fault_id, f"delay-{i}"), fault_id, source,
                                    peer, spec.direction, spec.latency_ms, spec.jitter_ms)
                   for i, peer in enumerate(peers)]
        return Change(FaultKind.LATENCY, self.kind, fault_id,
                      f"delay {spec.scope.describe()} ({spec.direction}) by {spec.latency_ms} "
                      f"± {spec.jitter_ms} ms via Chaos Mesh NetworkChaos",
                      KubeObjectsData(objects=objects), subjects=self._subjects(source, objects))

    def plan_stress(self, spec: StressSpec, pods: list[PodRef], fault_id: str) -> Change:
        """A Chaos Mesh StressChaos (cpu or memory) on exactly ``pods``; no side effect."""
        if spec.mode == "freeze":
            raise UsageError("stress mode freeze (SIGSTOP) exists only on the sandbox; on "
                             "Kubernetes use cpu or memory (Chaos Mesh StressChaos)")
        if not pods:
            raise UsageError("no pods to stress")
        by_ns: dict[str, list[str]] = {}
        for pod in pods:
            self.check_namespace(pod.namespace)
            by_ns.setdefault(pod.namespace, []).append(pod.name)
        self._need_chaos_mesh(f"{spec.mode} stress")
        manifest = mf.stress_chaos(mf.object_name(fault_id, "stress"), fault_id, pods[0].namespace,
                                   by_ns, spec.mode, spec.cpu_workers, spec.memory_mb,
                                   spec.duration_s)
        what = (f"{spec.cpu_workers} cpu worker(s)" if spec.mode == "cpu"
                else f"{spec.memory_mb} MiB of memory")
        return Change(FaultKind.STRESS, self.kind, fault_id,
                      f"stress {', '.join(p.name for p in pods)} with {what} via Chaos Mesh "
                      "StressChaos", KubeObjectsData(objects=[manifest]),
                      subjects=tuple(f"{p.namespace}/{p.name}" for p in pods))

    def _sides(self, scope: NetworkScope) -> tuple[mf.Scoped, list[mf.Scoped]]:
        source, peers = mf.resolve_scope(self.target, scope)
        for _, namespace in [source, *peers]:
            self.check_namespace(namespace)
        return source, peers

    def _subjects(self, source: mf.Scoped, objects: list[mf.Manifest]) -> tuple[str, ...]:
        """A network change's subjects: the selected side's pods now (``namespace/name``),
        else the names of the objects it creates."""
        selector, namespace = source
        pods = sorted(_pod_subject(p) for p in self.kube.list_pods(namespace, str(selector)))
        return tuple(pods) or tuple(o["metadata"]["name"] for o in objects)

    def _isolation_policies(self, source: mf.Scoped, peers: list[mf.Scoped], direction: str,
                            fault_id: str) -> list[mf.Manifest]:
        plans: list[tuple[str, mf.Scoped, list[mf.Scoped]]] = []
        if direction in ("to", "both"):
            plans += [(f"to-{i}", peer, [source]) for i, peer in enumerate(peers)]
        if direction in ("from", "both"):
            plans.append(("from", source, peers))
        policies = []
        for part, (isolated, namespace), excluded in plans:
            self._refuse_unions(isolated, namespace)
            policies.append(mf.isolation_policy(mf.object_name(fault_id, part), fault_id,
                                                namespace, isolated, excluded))
        return policies

    def _refuse_unions(self, isolated: Selector, namespace: str) -> None:
        """UsageError when no pod would be isolated, or another policy already selects them."""
        pods = self.kube.list_pods(namespace, str(isolated))
        if not pods:
            raise UsageError(f"no pods match {isolated} in namespace {namespace}; "
                             "nothing to partition")
        clashes = sorted({p["metadata"]["name"] for p in self._unions(namespace, pods, None)})
        if clashes:
            raise UsageError(
                f"NetworkPolicies {', '.join(clashes)} in {namespace} already select pods of "
                f"{isolated}; policies are unioned, so a partition policy would widen what "
                "they allow instead of cutting traffic. Fix: install Chaos Mesh (chaosgate "
                "then uses NetworkChaos), or run the partition where no policy selects these pods")

    def _unions(self, namespace: str, pods: list[dict[str, Any]],
                fault_id: str | None) -> list[dict[str, Any]]:
        """Policies in ``namespace``, other than ``fault_id``'s, that govern ``pods``' ingress."""
        def ours(policy: dict[str, Any]) -> bool:
            labels = policy["metadata"].get("labels") or {}
            return fault_id is not None and labels.get(mf.FAULT_LABEL) == fault_id

        return [p for p in self.kube.list_network_policies(namespace) if not ours(p)
                and any(mf.policy_isolates(p, pod["metadata"].get("labels") or {})
                        for pod in pods)]

    # -- apply, verify, revert -----------------------------------------------------------

    def apply(self, change: Change) -> None:
        """Create the objects the change names (an existing one of that name is kept), or
        set the fault proxy's toxics and links."""
        if net.is_link_change(change):
            self._links(change).apply(change)
            return
        for obj in _objects(change):
            self.check_namespace(obj["metadata"]["namespace"])
            if obj["kind"] == "NetworkPolicy":
                self.kube.create_network_policy(obj["metadata"]["namespace"], obj)
            else:
                self.kube.create_custom(*CHAOS_MESH, _CHAOS_PLURALS[obj["kind"]], obj)

    def verify(self, change: Change) -> ProbeResult:
        """Ok when every object exists and took hold (Chaos Mesh: Selected and AllInjected);
        through the fault proxy, the links' active probes."""
        if net.is_link_change(change):
            return self._links(change).verify(change)
        if not _objects(change):
            return ProbeResult(False, f"{change.kind} change {change.fault_id} names no "
                                      "Kubernetes objects")
        details = []
        for obj in _objects(change):
            result = (self._verify_policy(obj, change.fault_id) if obj["kind"] == "NetworkPolicy"
                      else self._verify_chaos(obj))
            if not result.ok:
                return result
            details.append(result.detail)
        return ProbeResult(True, "; ".join(details))

    def _verify_policy(self, obj: mf.Manifest, fault_id: str) -> ProbeResult:
        meta = obj["metadata"]
        where = f"NetworkPolicy {meta['namespace']}/{meta['name']}"
        present = self.kube.list_network_policies(meta["namespace"],
                                                  f"{mf.FAULT_LABEL}={fault_id}")
        if meta["name"] not in {p["metadata"]["name"] for p in present}:
            return ProbeResult(False, f"{where} does not exist")
        isolated = Selector.parse(meta["annotations"]["chaosgate.io/isolates"])
        pods = self.kube.list_pods(meta["namespace"], str(isolated))
        if not pods:
            return ProbeResult(False, f"{where} selects no pods ({isolated})")
        clashes = self._unions(meta["namespace"], pods, fault_id)
        if clashes:
            names = ", ".join(p["metadata"]["name"] for p in clashes)
            return ProbeResult(False, f"{where} is unioned with {names}, which may allow the "
                                      "traffic it should cut")
        return ProbeResult(True, f"{where} isolates {len(pods)} pod(s) of {isolated} from "
                                 f"{meta['annotations']['chaosgate.io/excludes']} ({_CNI_NOTE})")

    def _verify_chaos(self, obj: mf.Manifest) -> ProbeResult:
        meta = obj["metadata"]
        where = f"{obj['kind']} {meta['namespace']}/{meta['name']}"
        found = self.kube.get_custom(*CHAOS_MESH, _CHAOS_PLURALS[obj["kind"]], meta["namespace"],
                                     meta["name"])
        if found is None:
            return ProbeResult(False, f"{where} does not exist")
        status = found.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        records = (status.get("experiment") or {}).get("containerRecords") or []
        if conditions.get("Selected") == "False":
            return ProbeResult(False, f"{where} selected no pods")
        if conditions.get("AllInjected") != "True":
            phases = ", ".join(f"{r.get('id')}: {r.get('phase')}" for r in records) or "none"
            return ProbeResult(False, f"{where} is not injected yet (records: {phases})")
        return ProbeResult(True, f"{where} injected into {len(records)} target(s)")

    def revert(self, change: Change) -> None:
        """Delete every object the change names, or remove the fault proxy's toxics and
        enable its links; already gone is fine. Idempotent."""
        if net.is_link_change(change):
            self._links(change).revert(change)
            return
        for obj in _objects(change):
            meta = obj["metadata"]
            if obj["kind"] == "NetworkPolicy":
                self.kube.delete_network_policy(meta["namespace"], meta["name"])
            else:
                self.kube.delete_custom(*CHAOS_MESH, _CHAOS_PLURALS[obj["kind"]],
                                        meta["namespace"], meta["name"])

    def verify_reverted(self, change: Change) -> ProbeResult:
        """Ok when none of the change's objects exists any more (finalizers done); through
        the fault proxy, when its links are up, clean and answer."""
        if net.is_link_change(change):
            return self._links(change).verify_reverted(change)
        for obj in _objects(change):
            meta = obj["metadata"]
            if obj["kind"] == "NetworkPolicy":
                names = {p["metadata"]["name"] for p in self.kube.list_network_policies(
                    meta["namespace"], f"{mf.FAULT_LABEL}={change.fault_id}")}
                left = meta["name"] in names
            else:
                left = self.kube.get_custom(*CHAOS_MESH, _CHAOS_PLURALS[obj["kind"]],
                                            meta["namespace"], meta["name"]) is not None
            if left:
                return ProbeResult(False, f"{obj['kind']} {meta['namespace']}/{meta['name']} "
                                          "still exists")
        return ProbeResult(True, f"{len(_objects(change))} object(s) removed")

    def moments(self, change: Change, since: float) -> list[Moment]:
        """Chaos Mesh's per-target apply/recover events since ``since`` (if still readable),
        or the fault proxy's events of the change's proxies (none from a real Toxiproxy)."""
        if net.is_link_change(change):
            return self._links(change).moments(change, since)
        found: list[Moment] = []
        for obj in _objects(change):
            if obj["kind"] == "NetworkPolicy":
                continue
            meta = obj["metadata"]
            live = self.kube.get_custom(*CHAOS_MESH, _CHAOS_PLURALS[obj["kind"]],
                                        meta["namespace"], meta["name"]) or {}
            records = ((live.get("status") or {}).get("experiment") or {}).get(
                "containerRecords") or []
            for record in records:
                for event in record.get("events") or []:
                    t = mf.epoch(event["timestamp"])
                    if t >= since:
                        what = f"{event.get('operation', '?')} {event.get('type', '?')}".lower()
                        found.append(Moment(t, what, str(record.get("id")), "chaos-mesh records"))
        return sorted(found, key=lambda m: m.t)


def kubernetes_database(target: Target, platform: Platform) -> DatabaseAdapter:
    """The failover adapter for ``target.database`` on Kubernetes (CloudNativePG or RDS)."""
    db = target.database
    if db is None:
        raise UsageError(f"{target.source}: the target describes no database")
    if db.type == "cloudnativepg":
        from .cloudnativepg import CloudNativePG

        kube = platform.kube if isinstance(platform, KubernetesPlatform) else KubeApi(
            api_client(target.platform))
        return CloudNativePG(target, kube)
    if db.type == "rds":
        from .rds import RdsDatabase

        return RdsDatabase(target)
    raise UsageError(f"{target.source}: database.type {db.type} is not supported on Kubernetes "
                     "yet. Fix: use cloudnativepg or rds, or run Patroni faults on the sandbox")
