"""The HTTP front of the fake API server, and :class:`FakeKube`, its handle.

A real ``ThreadingHTTPServer`` on 127.0.0.1 and an ephemeral port, so that
the official ``kubernetes`` client talks to it unchanged through the
kubeconfig :meth:`FakeKube.write_kubeconfig` writes (bearer-token auth, like
a service account). Every request is served under one lock, after the
controllers have reconciled (see :mod:`.controllers`).

Optional RBAC enforcement: given the rules of a Role and a ClusterRole
(``deploy/rbac.yaml``), any request they do not grant gets the 403 the real
server sends, and :attr:`FakeKube.requests` records what was asked for.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import errors, netpol
from .controllers import Controllers, Timing
from .resources import (
    CHAOS_MESH,
    CLUSTER,
    CNPG,
    CORE,
    DEPLOYMENT,
    NAMESPACE,
    NETWORKPOLICY,
    POD,
    ResourceType,
    api_group_list,
    api_resource_list,
)
from .store import Obj, Store

__all__ = ["TOKEN", "FakeKube", "Request"]

TOKEN = "fake-token-for-tests"  # not a secret: the fake accepts nothing else


@dataclass(frozen=True)
class Request:
    """One request as RBAC sees it: verb, API group, resource (with subresource), namespace."""

    verb: str
    group: str
    resource: str
    namespace: str
    path: str
    query: Mapping[str, str]


class _Route:
    def __init__(self, rt: ResourceType, namespace: str, name: str | None, sub: str | None):
        self.rt, self.namespace, self.name, self.sub = rt, namespace, name, sub


class FakeKube:
    """A stateful fake Kubernetes API server; use as a context manager."""

    def __init__(self, *, chaos_mesh: bool = False, cnpg: bool = False,
                 timing: Timing | None = None, clock: Callable[[], float] = time.time,
                 rbac: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
        self.store = Store(clock)
        self.controllers = Controllers(self.store, timing or Timing())
        self.store.on_finalize = self.controllers.on_delete
        self.chaos_mesh, self.cnpg = chaos_mesh, cnpg
        self.rbac = rbac  # {"role": [rules], "cluster": [rules]}; None: everything allowed
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------

    def __enter__(self) -> FakeKube:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fakekube",
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None, "use FakeKube as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def write_kubeconfig(self, path: Path, context: str = "fake", token: str = TOKEN) -> Path:
        """Write a kubeconfig whose ``context`` points at this server with ``token``."""
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
               "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
               "users": [{"name": "chaosgate", "user": {"token": token}}],
               "contexts": [{"name": context, "context": {"cluster": "fake",
                                                          "user": "chaosgate"}}]}
        path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
        return path

    # -- state --------------------------------------------------------------------

    def types(self) -> list[ResourceType]:
        """The resource types served now (CRDs only when "installed")."""
        return [*CORE, *(CHAOS_MESH if self.chaos_mesh else ()), *(CNPG if self.cnpg else ())]

    def objects(self, rt: ResourceType, namespace: str | None = None) -> list[Obj]:
        """The stored objects of ``rt`` (after reconciling), for assertions."""
        with self.lock:
            self.controllers.reconcile()
            return list(self.store.find(rt, namespace))

    def add_namespace(self, name: str) -> None:
        """Create a namespace."""
        with self.lock:
            self.store.create(NAMESPACE, "", {"metadata": {"name": name}})

    def add(self, rt: ResourceType, namespace: str, body: Obj) -> Obj:
        """Create any object as a client would (validated), then reconcile."""
        with self.lock:
            obj = self.store.create(rt, namespace, body)
            self.controllers.reconcile()
            return obj

    def add_deployment(self, namespace: str, name: str, labels: Mapping[str, str],
                       replicas: int = 2, ready: bool = True) -> None:
        """A Deployment whose pods carry ``labels``; ``ready``: its pods are ready at once."""
        body = {"metadata": {"name": name, "labels": dict(labels)},
                "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                         "template": {"metadata": {"labels": dict(labels)},
                                      "spec": {"containers": [{"name": "app",
                                                               "image": "registry.local/app:1"}]}}}}
        delay = self.controllers.timing.ready_delay
        if ready:
            self.controllers.timing.ready_delay = 0
        try:
            self.add(DEPLOYMENT, namespace, body)
        finally:
            self.controllers.timing.ready_delay = delay

    def add_pod(self, namespace: str, name: str, labels: Mapping[str, str],
                owner: dict[str, Any] | None = None) -> Obj:
        """A ready pod (no controller unless ``owner`` is given)."""
        with self.lock:
            return self.controllers.new_pod(namespace, name, dict(labels), owner, ready=True)

    def add_cnpg_cluster(self, namespace: str, name: str, instances: int = 3) -> None:
        """A CloudNativePG Cluster with ready instance pods; ``<name>-1`` is the primary."""
        self.add(CLUSTER, namespace, {"metadata": {"name": name},
                                      "spec": {"instances": instances}})

    def connects(self, source: tuple[str, str], dest: tuple[str, str]) -> bool:
        """Whether pod ``source`` (namespace, name) may connect to pod ``dest``.

        Evaluates the stored NetworkPolicies as an enforcing CNI would
        (:mod:`.netpol`).
        """
        with self.lock:
            self.controllers.reconcile()

            def endpoint(namespace: str, name: str) -> netpol.Endpoint:
                pod = self.store.get(POD, namespace, name)
                ns = self.store.get(NAMESPACE, "", namespace)
                return (namespace, pod["metadata"].get("labels") or {},
                        ns["metadata"].get("labels") or {})

            return netpol.allowed(self.store.find(NETWORKPOLICY), endpoint(*source),
                                  endpoint(*dest))

    # -- requests -------------------------------------------------------------------

    def route(self, path: str) -> _Route:
        """Map a resource path to (type, namespace, name, subresource); 404 otherwise."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.unknown_resource()
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        for rt in self.types():
            if (rt.group, rt.version, rt.plural) == (group, version, rest[0] if rest else None):
                if namespace and not rt.namespaced:
                    break
                name = rest[1] if len(rest) > 1 else None
                sub = rest[2] if len(rest) > 2 else None
                if len(rest) > 3 or (sub is not None and not (sub == "status"
                                                               and rt.status_subresource)):
                    break
                return _Route(rt, namespace, name, sub)
        raise errors.unknown_resource()

    def discovery(self, path: str) -> Obj | None:
        """Discovery documents (/version, /api, /apis, /apis/<g>/<v>); None for others."""
        types = self.types()
        if path == "/version":
            return {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fakekube",
                    "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.url.split("//")[1]}]}
        if path == "/api/v1":
            return api_resource_list("v1", types)
        if path == "/apis":
            return api_group_list(types)
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == "apis":
            doc = api_resource_list(f"{parts[1]}/{parts[2]}", types)
            if not doc["resources"]:
                raise errors.unknown_resource()
            return doc
        return None

    def allowed(self, req: Request) -> bool:
        """Whether the RBAC rules (if any) grant ``req``.

        Role rules grant requests inside a namespace; ClusterRole rules grant
        anything, including non-resource URLs (discovery).
        """
        if self.rbac is None:
            return True
        rules = [*self.rbac.get("cluster", []), *(self.rbac.get("role", []) if req.namespace
                                                  else [])]
        for rule in rules:
            if not req.resource:
                if req.verb in rule.get("verbs", []) and req.path in rule.get("nonResourceURLs",
                                                                               []):
                    return True
            elif (req.group in rule.get("apiGroups", [])
                  and req.resource in rule.get("resources", [])
                  and req.verb in rule.get("verbs", [])):
                return True
        return False

    def handle(self, method: str, raw_path: str, headers: Mapping[str, str],
               body: bytes) -> tuple[int, Obj]:
        """Serve one request (``headers`` keys in lower case): (HTTP status, JSON body)."""
        split = urlsplit(raw_path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, errors.ApiError(401, "Unauthorized", "Unauthorized").body()
        with self.lock:
            self.controllers.reconcile()
            try:
                return self._serve(method, path, query, headers, body)
            except errors.ApiError as exc:
                return exc.code, exc.body()
            finally:
                self.controllers.reconcile()

    def _serve(self, method: str, path: str, query: dict[str, str],
               headers: Mapping[str, str], body: bytes) -> tuple[int, Obj]:
        doc = self.discovery(path) if method == "GET" else None
        if doc is not None:
            self._check(Request("get", "", "", "", path, query))
            return 200, doc
        route = self.route(path)
        rt = route.rt
        verb = {"GET": "get" if route.name else "list", "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}[method]
        resource = f"{rt.plural}/{route.sub}" if route.sub else rt.plural
        self._check(Request(verb, rt.group, resource, route.namespace, path, query))
        data: Any = json.loads(body) if body else {}
        name = route.name or ""
        if verb == "list":
            return 200, self.store.list(rt, route.namespace or None,
                                        query.get("labelSelector", ""))
        if verb == "get":
            return 200, self.store.get(rt, route.namespace, name)
        if verb == "create" and route.name is None:
            return 201, self.store.create(rt, route.namespace, data)
        if verb == "patch":
            return 200, self.store.patch(rt, route.namespace, name, data,
                                         headers.get("content-type", ""), route.sub)
        if verb == "update":
            return 200, self.store.replace(rt, route.namespace, name, data, route.sub)
        if verb == "delete" and route.name is not None:
            options = dict(data)
            if "gracePeriodSeconds" in query:
                options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
            return 200, self.store.delete(rt, route.namespace, name, options)
        raise errors.ApiError(405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource")

    def _check(self, req: Request) -> None:
        self.requests.append(req)
        if not self.allowed(req):
            what = f'resource "{req.resource}" in API group "{req.group}"'
            where = f' in the namespace "{req.namespace}"' if req.namespace else \
                " at the cluster scope"
            raise errors.ApiError(
                403, "Forbidden",
                f'{req.resource or req.path} is forbidden: User '
                f'"system:serviceaccount:chaosgate:chaosgate" cannot {req.verb} {what}{where}',
                {"kind": req.resource} if req.resource else {})

    def used(self) -> Iterator[tuple[str, str, str]]:
        """(group, resource, verb) of every resource request so far."""
        for req in self.requests:
            if req.resource:
                yield req.group, req.resource, req.verb


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKube
    protocol_version = "HTTP/1.1"

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        code, doc = self.fake.handle(self.command, self.path, headers, body)
        payload = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _respond

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`FakeKube.requests` instead."""
