"""Start, stop and inspect a real Kubernetes control plane on 127.0.0.1 (``scripts/kube``).

``up`` starts, each in a session of its own and recorded by pid + start time
(``chaosgate.clients.processes``): etcd (Debian's etcd-server), kube-apiserver
(RBAC, static admin token, service-account keys, TLS from a CA made here),
kube-controller-manager, kube-scheduler and :func:`agent`, a node agent that
stands in for kubelets the way kwok does. It writes ``admin.kubeconfig``,
applies ``deploy/rbac.yaml`` and writes ``chaosgate.kubeconfig`` for the
``chaosgate`` ServiceAccount it binds, then ``state.json`` (server, ports,
paths, version). With ``--owner-pid``, the agent also watches that process
and stops everything once it is gone, however it ended. ``down`` stops
exactly the recorded processes (SIGTERM, then SIGKILL after a grace period)
and leaves none behind; ``status`` reports them.

Ports (all on 127.0.0.1): port base + 1 etcd client, + 2 etcd peer,
+ 3 apiserver, + 4 controller-manager, + 5 scheduler.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chaosgate.clients.processes import (
    Identity,
    boot_id,
    identify,
    process_table,
    read_identity_file,
    session_members,
    signal_identity,
)

ROOT = Path(__file__).resolve().parents[2]
RBAC_FILE = ROOT / "deploy" / "rbac.yaml"
DEFAULT_STATE = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")
                     ) / "chaosgate" / "kube"
#: Start order; ``down`` stops in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "agent")
NODES = ("kube-node-1", "kube-node-2")
SA_NAMESPACE, SA_NAME = "chaosgate", "chaosgate"


def log(message: str) -> None:
    print(f"kube: {message}", file=sys.stderr, flush=True)


# --- certificates and credentials -------------------------------------------------------

def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_credentials(pki: Path) -> str:
    """A CA, the apiserver's serving certificate, the service-account key pair and the
    static admin token; returns the token."""
    pki.mkdir(parents=True, exist_ok=True)
    if not (pki / "admin.token").exists():
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                "-subj", "/CN=chaosgate-kube-ca", "-keyout", str(pki / "ca.key"),
                "-out", str(pki / "ca.crt"))
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver",
                "-keyout", str(pki / "apiserver.key"), "-out", str(pki / "apiserver.csr"))
        ext = pki / "san.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,"
                       "DNS:kubernetes,DNS:kubernetes.default.svc\n")
        openssl("x509", "-req", "-in", str(pki / "apiserver.csr"), "-CA", str(pki / "ca.crt"),
                "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "3650",
                "-extfile", str(ext), "-out", str(pki / "apiserver.crt"))
        openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
        openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
        token = base64.b32encode(os.urandom(20)).decode().lower()
        (pki / "tokens.csv").write_text(f"{token},admin,admin,system:masters\n")
        (pki / "admin.token").write_text(token + "\n")
    return (pki / "admin.token").read_text().strip()


def kubeconfig(server: str, ca: Path, user: str, token: str, context: str) -> str:
    """A kubeconfig (JSON, which is YAML) for one bearer-token user."""
    ca_data = base64.b64encode(ca.read_bytes()).decode()
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "chaosgate-kube", "cluster": {
            "server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "chaosgate-kube", "user": user}}],
    }, indent=2) + "\n"


AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "users": [f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"]},
              {"level": "None"}]}


def write_audit_policy(state: Path) -> Path:
    """The audit policy: every request of the chaosgate ServiceAccount, metadata only."""
    path = state / "audit-policy.json"
    path.write_text(json.dumps(AUDIT_POLICY) + "\n")
    return path


# --- processes ----------------------------------------------------------------------------

def record(path: Path, identity: Identity) -> None:
    """Write ``identity`` in the format :func:`read_identity_file` reads."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"boot_id": boot_id(), "pid": identity.pid,
                               "start_ticks": identity.start_ticks}) + "\n")
    tmp.replace(path)


def spawn(state: Path, name: str, argv: list[str]) -> None:
    """Start ``argv`` in a session of its own, output to ``logs/<name>.log``; record it."""
    (state / "logs").mkdir(exist_ok=True)
    with open(state / "logs" / f"{name}.log", "ab") as out:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True,
                                 cwd=state)
    identity = identify(child.pid)
    if identity is None:
        raise SystemExit(f"kube: {name} exited at once; see {state}/logs/{name}.log")
    record(state / f"{name}.identity", identity)


def running(state: Path) -> dict[str, Identity]:
    """The recorded components that still run (same pid, same start time)."""
    found = {}
    for name in COMPONENTS:
        identity = read_identity_file(state / f"{name}.identity")
        if identity is not None:
            found[name] = identity
    return found


def stop(state: Path, grace: float = 10.0, keep: tuple[str, ...] = ()) -> list[str]:
    """Stop the recorded components (but ``keep``) and everything in their sessions;
    return their names."""
    stopped = []
    for name in reversed(COMPONENTS):
        if name in keep:
            continue
        leader = read_identity_file(state / f"{name}.identity")
        if leader is not None:
            members = session_members(leader, process_table()) or [leader]
            for member in members:
                signal_identity(member, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(
                    m.matches(process_table().get(m.pid)) for m in members):
                time.sleep(0.05)
            for member in members:
                signal_identity(member, signal.SIGKILL)
            while any(m.matches(process_table().get(m.pid)) for m in members):
                time.sleep(0.02)
            stopped.append(name)
        (state / f"{name}.identity").unlink(missing_ok=True)
    return stopped


# --- HTTP ---------------------------------------------------------------------------------

def api(server: str, ca: Path, token: str, method: str, path: str,
        body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """One API call with the standard library; returns (status, decoded JSON or {})."""
    context = ssl.create_default_context(cafile=str(ca))
    request = urllib.request.Request(
        server + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        doc = {}
    return status, doc if isinstance(doc, dict) else {}


def wait_for(what: str, check: Any, timeout: float, logs: Path) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"kube: {what} not ready after {timeout:.0f} s; see {logs}")
        time.sleep(0.1)


# --- up / down / status -------------------------------------------------------------------

def up(state: Path, bin_dir: Path, port_base: int, version: str,
       owner: Identity | None = None) -> dict[str, Any]:
    """Start everything (after stopping what an earlier ``up`` left); return state.json."""
    stop(state)
    (state / "owner.identity").unlink(missing_ok=True)
    started = time.monotonic()
    state.mkdir(parents=True, exist_ok=True)
    for stale in ("etcd", "state.json", "audit.log"):
        path = state / stale
        if path.is_dir():
            subprocess.run(["rm", "-rf", str(path)], check=True)
        else:
            path.unlink(missing_ok=True)
    pki = state / "pki"
    token = make_credentials(pki)
    etcd_client, etcd_peer, secure, kcm_port, sched_port = (port_base + i for i in range(1, 6))
    server = f"https://127.0.0.1:{secure}"
    admin = state / "admin.kubeconfig"
    admin.write_text(kubeconfig(server, pki / "ca.crt", "admin", token, "admin"))
    spawn(state, "etcd", [
        "etcd", "--name", "default", "--data-dir", str(state / "etcd"),
        "--listen-client-urls", f"http://127.0.0.1:{etcd_client}",
        "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
        "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
        "--initial-cluster", f"default=http://127.0.0.1:{etcd_peer}",
        "--listen-metrics-urls", "", "--log-level", "warn"])
    spawn(state, "kube-apiserver", [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{etcd_client}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        f"--secure-port={secure}", "--insecure-port=0",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--token-auth-file={pki / 'tokens.csv'}",
        "--authorization-mode=RBAC", "--anonymous-auth=false",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none",
        f"--cert-dir={state / 'apiserver-certs'}", "--profiling=false", "--v=1",
        # What the chaosgate ServiceAccount asks for, one line per request: the RBAC
        # tests compare it with deploy/rbac.yaml.
        f"--audit-policy-file={write_audit_policy(state)}",
        f"--audit-log-path={state / 'audit.log'}"])
    logs = state / "logs"
    wait_for("kube-apiserver", lambda: api(server, pki / "ca.crt", token, "GET",
                                           "/readyz")[0] == 200, 60, logs)
    api_ready = time.monotonic() - started
    common = [f"--kubeconfig={admin}", f"--authentication-kubeconfig={admin}",
              f"--authorization-kubeconfig={admin}", "--bind-address=127.0.0.1", "--port=0",
              "--leader-elect=false", "--profiling=false", "--v=1",
              # the defaults (20 and 50 requests/s) throttle a test suite that
              # makes a namespace and a few Deployments per test
              "--kube-api-qps=500", "--kube-api-burst=1000"]
    spawn(state, "kube-controller-manager", [
        str(bin_dir / "kube-controller-manager"), *common, f"--secure-port={kcm_port}",
        f"--cert-dir={state / 'kcm-certs'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        # No kubelets send heartbeats: the node lifecycle controller would taint the
        # agent's nodes NotReady and evict every pod.
        "--controllers=*,-nodelifecycle,-cloud-node-lifecycle",
        "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10"])
    spawn(state, "kube-scheduler", [
        str(bin_dir / "kube-scheduler"), *common, f"--secure-port={sched_port}",
        f"--cert-dir={state / 'scheduler-certs'}"])
    agent_argv = [sys.executable, __file__, "agent", "--kubeconfig", str(admin),
                  "--state-dir", str(state)]
    if owner is not None:
        record(state / "owner.identity", owner)
        agent_argv.append("--owned")
    spawn(state, "agent", agent_argv)

    rbac = apply_rbac(server, pki / "ca.crt", token)
    sa_token = wait_for("the chaosgate ServiceAccount token", lambda: service_account_token(
        server, pki / "ca.crt", token), 60, logs)
    (state / "chaosgate.kubeconfig").write_text(
        kubeconfig(server, pki / "ca.crt", "chaosgate", sa_token, "chaosgate"))
    wait_for("the nodes", lambda: all(
        api(server, pki / "ca.crt", token, "GET", f"/api/v1/nodes/{n}")[0] == 200
        for n in NODES), 60, logs)
    doc = {"version": version, "server": server, "port_base": port_base,
           "admin_kubeconfig": str(admin),
           "chaosgate_kubeconfig": str(state / "chaosgate.kubeconfig"),
           "ca": str(pki / "ca.crt"), "audit_log": str(state / "audit.log"),
           "rbac_objects": rbac, "nodes": list(NODES),
           "apiserver_ready_seconds": round(api_ready, 2),
           "ready_seconds": round(time.monotonic() - started, 2)}
    (state / "state.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


PLURALS = {"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "Role": "roles",
           "RoleBinding": "rolebindings", "ClusterRole": "clusterroles",
           "ClusterRoleBinding": "clusterrolebindings"}


def apply_rbac(server: str, ca: Path, token: str) -> int:
    """Create the objects of deploy/rbac.yaml (and the namespace its Role lives in)."""
    import yaml  # the venv has it; imported here so `down` needs nothing but the stdlib

    docs = [d for d in yaml.safe_load_all(RBAC_FILE.read_text(encoding="utf-8")) if d]
    namespaces = {d["metadata"]["namespace"] for d in docs if "namespace" in d["metadata"]}
    for ns in sorted(namespaces):
        api(server, ca, token, "POST", "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for doc in docs:
        group_version = doc["apiVersion"]
        prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        ns = doc["metadata"].get("namespace")
        path = f"{prefix}/namespaces/{ns}/{PLURALS[doc['kind']]}" if ns else \
            f"{prefix}/{PLURALS[doc['kind']]}"
        status, body = api(server, ca, token, "POST", path, doc)
        if status not in (201, 409):
            raise SystemExit(f"kube: creating {doc['kind']} from {RBAC_FILE}: {status} {body}")
    return len(docs)


def service_account_token(server: str, ca: Path, token: str) -> str | None:
    """The token of the chaosgate ServiceAccount (its token Secret, made by the
    controller-manager), or None while there is none yet."""
    status, sa = api(server, ca, token, "GET",
                     f"/api/v1/namespaces/{SA_NAMESPACE}/serviceaccounts/{SA_NAME}")
    secrets = [s["name"] for s in sa.get("secrets") or []] if status == 200 else []
    for name in secrets:
        status, secret = api(server, ca, token, "GET",
                             f"/api/v1/namespaces/{SA_NAMESPACE}/secrets/{name}")
        data = secret.get("data", {}).get("token") if status == 200 else None
        if data:
            return base64.b64decode(data).decode()
    return None


def status(state: Path) -> int:
    alive = running(state)
    for name in COMPONENTS:
        identity = alive.get(name)
        print(f"{name:24} {f'running, pid {identity.pid}' if identity else 'not running'}")
    doc = state / "state.json"
    if alive and doc.exists():
        print(doc.read_text().strip())
    return 0 if len(alive) == len(COMPONENTS) else 1


# --- the node agent -----------------------------------------------------------------------

def watch_owner(state: Path) -> None:
    """When the process ``up --owner-pid`` named is gone (a SIGKILLed test session),
    stop the other components and end this one: nothing outlives its owner."""
    while read_identity_file(state / "owner.identity") is not None:
        time.sleep(1)
    log("the owner is gone: stopping the control plane")
    stop(state, keep=("agent",))
    (state / "agent.identity").unlink(missing_ok=True)
    os._exit(0)


def agent(kubeconfig_path: Path, state: Path | None = None) -> None:
    """Stand in for kubelets, as kwok does: register :data:`NODES` as Ready, move pods the
    scheduler bound to Running and Ready (with an IP), and finish deletions (a pod with a
    deletionTimestamp is deleted with grace 0, as a kubelet does once containers stop).
    Runs until SIGTERM (or, given ``state``, until the owner ``up`` recorded is gone)."""
    from kubernetes import client, config, watch

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if state is not None:
        threading.Thread(target=watch_owner, args=(state,), daemon=True).start()
    loader: Any = config
    core: Any = client.CoreV1Api(loader.new_client_from_config(config_file=str(kubeconfig_path)))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for node in NODES:
        try:
            core.create_node({"metadata": {"name": node, "labels": {
                "kubernetes.io/hostname": node, "type": "chaosgate-agent"}}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        # The TaintNodesByCondition admission plugin gives a new node the not-ready
        # taint; the node lifecycle controller (off here) would lift it once Ready.
        current = core.read_node(node)
        if current.spec.taints:
            core.patch_node(node, [{"op": "remove", "path": "/spec/taints"}])
        resources = {"cpu": "32", "memory": "256Gi", "pods": "250"}
        core.patch_node_status(node, {"status": {
            "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "ChaosgateAgent",
                            "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "nodeInfo": {"kubeletVersion": "v1.20.2-agent", "architecture": "amd64",
                         "operatingSystem": "linux"}}})
    next_ip = [0]

    def handle(pod: Any) -> None:
        meta, spec = pod.metadata, pod.spec
        if meta.deletion_timestamp is not None:
            try:
                core.delete_namespaced_pod(meta.name, meta.namespace, grace_period_seconds=0,
                                           body=client.V1DeleteOptions(
                                               grace_period_seconds=0,
                                               preconditions={"uid": meta.uid}))
            except client.ApiException as exc:
                if exc.status not in (404, 409):
                    raise
            return
        if not spec.node_name or (pod.status and pod.status.phase == "Running"):
            return
        next_ip[0] += 1
        ip = f"10.244.{next_ip[0] // 250 % 250}.{next_ip[0] % 250 + 1}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        conditions = [{"type": t, "status": "True", "lastTransitionTime": stamp}
                      for t in ("Initialized", "ContainersReady", "Ready", "PodScheduled")]
        containers = [{"name": c.name, "image": c.image, "imageID": "", "ready": True,
                       "restartCount": 0, "started": True,
                       "state": {"running": {"startedAt": stamp}}} for c in spec.containers]
        try:
            core.patch_namespaced_pod_status(meta.name, meta.namespace, {"status": {
                "phase": "Running", "conditions": conditions, "hostIP": "127.0.0.1",
                "podIP": ip, "podIPs": [{"ip": ip}], "startTime": stamp,
                "containerStatuses": containers}})
        except client.ApiException as exc:
            if exc.status != 404:
                raise

    while True:
        listing = core.list_pod_for_all_namespaces()
        for pod in listing.items:
            handle(pod)
        try:
            for event in watch.Watch().stream(core.list_pod_for_all_namespaces,
                                              resource_version=listing.metadata.resource_version,
                                              timeout_seconds=300):
                if event["type"] in ("ADDED", "MODIFIED"):
                    handle(event["object"])
        except client.ApiException as exc:
            if exc.status != 410:  # 410 Gone: the resource version expired; list again
                raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/kube")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status"):
        p = sub.add_parser(name)
        p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
        if name == "up":
            p.add_argument("--bin-dir", type=Path, required=True)
            p.add_argument("--version", required=True)
            p.add_argument("--owner-pid", type=int, default=None,
                           help="stop everything when this process is gone")
            p.add_argument("--port-base", type=int, default=int(os.environ.get(
                "CHAOSGATE_KUBE_PORT_BASE", "30900")))
    ag = sub.add_parser("agent")
    ag.add_argument("--kubeconfig", type=Path, required=True)
    ag.add_argument("--state-dir", type=Path, required=True)
    ag.add_argument("--owned", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "up":
        try:
            owner = None if args.owner_pid is None else identify(args.owner_pid)
            if args.owner_pid is not None and owner is None:
                raise SystemExit(f"kube: --owner-pid {args.owner_pid}: no such process")
            doc = up(args.state_dir.resolve(), args.bin_dir, args.port_base, args.version,
                     owner)
        except BaseException:
            stop(args.state_dir.resolve())  # leave nothing running after a failed start
            raise
        log(f"{doc['version']} at {doc['server']} ready in {doc['ready_seconds']} s "
            f"(apiserver {doc['apiserver_ready_seconds']} s); state in {args.state_dir}")
        print(json.dumps(doc))
        return 0
    if args.command == "down":
        stopped = stop(args.state_dir.resolve())
        log(f"stopped {', '.join(stopped) if stopped else 'nothing (nothing was running)'}")
        return 0
    if args.command == "status":
        return status(args.state_dir.resolve())
    agent(args.kubeconfig, args.state_dir if args.owned else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
