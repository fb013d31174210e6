"""The only module that talks to the Kubernetes API (through the official client).

:func:`api_client` builds a client from the target's platform block
(kubeconfig path and context, or the pod's service account in-cluster);
:class:`KubeApi` offers the handful of calls the faults need, each with a
timeout, and turns the client's exceptions into chaosgate's:

- cannot connect, timeouts, 5xx: :class:`~chaosgate.exceptions.Inconclusive`
  (the cluster is unreachable: never a pass);
- 401/403, a bad kubeconfig: :class:`~chaosgate.exceptions.UsageError`
  naming the fix (credentials, ``deploy/rbac.yaml``);
- 404 where "gone" is an answer: ``None`` / ``False``, never an error.

Objects come back as plain dicts (the JSON the API server sent), so the
callers do not depend on the client's model classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from ..exceptions import Inconclusive, UsageError
from ..targets import PlatformConfig

__all__ = ["REQUEST_TIMEOUT", "KubeApi", "api_client"]

#: (connect, read) seconds for every API call.
REQUEST_TIMEOUT = (5.0, 30.0)

T = TypeVar("T")
Obj = dict[str, Any]
#: ``kubernetes.config`` is untyped; reached through Any rather than type: ignore comments.
_config: Any = config


def api_client(platform: PlatformConfig) -> client.ApiClient:
    """A client for the cluster ``platform`` names; UsageError if it cannot be configured."""
    try:
        if platform.in_cluster:
            configuration = client.Configuration()
            _config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        path = str(platform.kubeconfig) if platform.kubeconfig is not None else None
        built: client.ApiClient = _config.new_client_from_config(
            config_file=path, context=platform.context, persist_config=False)
        return built
    except (ConfigException, OSError) as exc:
        where = ("in-cluster service account" if platform.in_cluster
                 else f"kubeconfig {platform.kubeconfig or '$KUBECONFIG or ~/.kube/config'}"
                      f" context {platform.context or '(current)'}")
        fix = ("run chaosgate in a pod with a service account (deploy/rbac.yaml)"
               if platform.in_cluster else
               "point platform.kubeconfig/platform.context at a working cluster "
               "(kubectl --context <ctx> get pods must work)")
        raise UsageError(f"cannot configure the Kubernetes client from the {where}: {exc}. "
                         f"Fix: {fix}") from None


class KubeApi:
    """The Kubernetes calls chaosgate makes, with errors translated."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.networking = client.NetworkingV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    @property
    def host(self) -> str:
        """The API server's URL."""
        return str(self.api.configuration.host)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except ApiException as exc:
            if exc.status in (401, 403):
                raise UsageError(
                    f"Kubernetes API refused to {what} ({exc.status} {exc.reason}): "
                    f"{_message(exc)}. Fix: use credentials bound to the chaosgate Role and "
                    "ClusterRole (kubectl apply -f deploy/rbac.yaml)") from None
            if exc.status in (400, 409, 422):
                raise UsageError(f"Kubernetes API rejected the request to {what}: "
                                 f"{_message(exc)}") from None
            raise Inconclusive(f"Kubernetes API at {self.host} failed to {what}: "
                               f"{exc.status} {_message(exc)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Inconclusive(f"cannot reach the Kubernetes API at {self.host} to {what}: "
                               f"{exc}") from None

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._errors(what):
            return fn(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)

    def _maybe(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Like :meth:`_call`, but a 404 (or a 409 precondition miss) gives None."""
        with self._errors(what):
            try:
                return fn(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
            except ApiException as exc:
                # A real apiserver says "the UID in the precondition (...) does not match
                # the UID in record" (409 Conflict): the incarnation is gone.
                if exc.status == 404 or (exc.status == 409
                                         and "precondition" in _message(exc).lower()):
                    return None
                raise

    def _plain(self, obj: Any) -> Obj:
        serializer: Any = self.api
        data = serializer.sanitize_for_serialization(obj)
        return data if isinstance(data, dict) else {}

    # -- pods -----------------------------------------------------------------------

    def list_pods(self, namespace: str, selector: str) -> list[Obj]:
        """Pods in ``namespace`` matching the label selector text."""
        result = self._call(f"list pods in {namespace}", self.core.list_namespaced_pod,
                            namespace, label_selector=selector)
        return [self._plain(p) for p in result.items]

    def read_pod(self, namespace: str, name: str) -> Obj | None:
        """One pod, or None when it does not exist."""
        pod = self._maybe(f"read pod {namespace}/{name}", self.core.read_namespaced_pod,
                          name, namespace)
        return None if pod is None else self._plain(pod)

    def delete_pod(self, namespace: str, name: str, uid: str) -> bool:
        """Delete the incarnation ``uid`` of a pod at once (grace period 0).

        False when that incarnation is already gone (404, or a new uid).
        """
        options = client.V1DeleteOptions(grace_period_seconds=0,
                                         preconditions=client.V1Preconditions(uid=uid))
        done = self._maybe(f"delete pod {namespace}/{name}", self.core.delete_namespaced_pod,
                           name, namespace, grace_period_seconds=0, body=options)
        return done is not None

    # -- network policies -------------------------------------------------------------

    def list_network_policies(self, namespace: str, selector: str | None = None) -> list[Obj]:
        """NetworkPolicies in ``namespace`` (optionally by label selector)."""
        result = self._call(f"list NetworkPolicies in {namespace}",
                            self.networking.list_namespaced_network_policy, namespace,
                            label_selector=selector)
        return [self._plain(p) for p in result.items]

    def create_network_policy(self, namespace: str, manifest: Obj) -> bool:
        """Create a NetworkPolicy; False if one of that name already exists."""
        return self._create(f"create NetworkPolicy {manifest['metadata']['name']}",
                            self.networking.create_namespaced_network_policy, namespace,
                            manifest)

    def delete_network_policy(self, namespace: str, name: str) -> bool:
        """Delete a NetworkPolicy; False when it was already gone."""
        done = self._maybe(f"delete NetworkPolicy {namespace}/{name}",
                           self.networking.delete_namespaced_network_policy, name, namespace)
        return done is not None

    def _create(self, what: str, fn: Callable[..., Any], *args: Any) -> bool:
        with self._errors(what):
            try:
                fn(*args, _request_timeout=REQUEST_TIMEOUT)
                return True
            except ApiException as exc:
                if exc.status == 409 and "already exists" in _message(exc):
                    return False
                raise

    # -- discovery and custom resources -----------------------------------------------

    def served_resources(self, group: str, version: str) -> set[str]:
        """The resource names ``group/version`` serves (empty when it is not installed)."""
        found = self._maybe(f"discover {group}/{version}", self.custom.get_api_resources,
                            group, version)
        return set() if found is None else {r.name for r in found.resources}

    def create_custom(self, group: str, version: str, plural: str, manifest: Obj) -> bool:
        """Create a custom object; False if one of that name already exists."""
        meta = manifest["metadata"]
        return self._create(f"create {plural}.{group} {meta['name']}",
                            self.custom.create_namespaced_custom_object, group, version,
                            meta["namespace"], plural, manifest)

    def get_custom(self, group: str, version: str, plural: str, namespace: str,
                   name: str) -> Obj | None:
        """One custom object, or None when it does not exist."""
        found = self._maybe(f"read {plural}.{group} {namespace}/{name}",
                            self.custom.get_namespaced_custom_object, group, version,
                            namespace, plural, name)
        return found if isinstance(found, dict) else None

    def delete_custom(self, group: str, version: str, plural: str, namespace: str,
                      name: str) -> bool:
        """Delete a custom object; False when it was already gone."""
        done = self._maybe(f"delete {plural}.{group} {namespace}/{name}",
                           self.custom.delete_namespaced_custom_object, group, version,
                           namespace, plural, name)
        return done is not None

    def patch_custom_status(self, group: str, version: str, plural: str, namespace: str,
                            name: str, patch: Obj) -> Obj:
        """Merge-patch the status subresource of a custom object."""
        found = self._call(f"patch {plural}.{group} {namespace}/{name} status",
                           self.custom.patch_namespaced_custom_object_status, group, version,
                           namespace, plural, name, patch)
        return found if isinstance(found, dict) else {}


def _message(exc: ApiException) -> str:
    """The ``message`` of the Status body, else the reason."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or exc)
