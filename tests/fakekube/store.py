"""The fake API server's state and REST semantics, with no HTTP in it.

:class:`Store` holds objects by resource type, namespace and name, and
implements create, get, list, patch, replace and delete the way
``kube-apiserver`` does for the parts a client notices: ``uid``,
``resourceVersion`` (optimistic concurrency), ``generateName``, namespaces
that must exist, status subresources, delete preconditions and pods'
graceful deletion (``deletionTimestamp``; grace period 0 removes at once).
"""

from __future__ import annotations

import copy
import itertools
import random
import string
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from . import errors
from .labels import LabelSelectorError, match_query
from .resources import POD, ResourceType, validate

__all__ = ["Store", "merge_patch", "rfc3339"]

Obj = dict[str, Any]


def rfc3339(t: float, micro: bool = False) -> str:
    """Epoch seconds as the API server writes times (``metav1.Time``)."""
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``null`` deletes a key, lists are replaced)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _json_patch(doc: Any, ops: list[Mapping[str, Any]]) -> Any:
    """RFC 6902 JSON patch: add, replace, remove and test."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        key: Any = (len(parent) if last == "-" else int(last)) if isinstance(parent, list) else last
        if op["op"] == "test":
            if parent[key] != op["value"]:
                raise errors.ApiError(422, "Invalid", f"the server rejected our request due to "
                                      f"an error in our request: test failed at {op['path']}")
        elif op["op"] == "remove":
            del parent[key]
        elif op["op"] == "add" and isinstance(parent, list):
            parent.insert(key, op["value"])
        elif op["op"] in ("add", "replace"):
            parent[key] = op["value"]
        else:
            raise errors.bad_request(f"unsupported JSON patch op {op['op']!r}")
    return doc


class Store:
    """Every object of the fake cluster, and the REST verbs on them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.objects: dict[tuple[ResourceType, str, str], Obj] = {}
        self._versions = itertools.count(1000)
        self._random = random.Random(7)
        #: pod uid -> epoch second at which a terminating pod disappears
        self.deadlines: dict[str, float] = {}
        #: called when a delete waits for finalizers (the controllers finish it)
        self.on_finalize: Callable[[ResourceType, Obj], None] = lambda rt, obj: None

    # -- helpers shared with the controllers ---------------------------------

    def stamp(self, rt: ResourceType, obj: Obj, namespace: str) -> Obj:
        """Fill in what the server sets on create (uid, resourceVersion, ...)."""
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(self._random.choices(string.ascii_lowercase + string.digits, k=5))
            meta["name"] = meta["generateName"] + suffix
        obj["apiVersion"], obj["kind"] = rt.group_version, rt.kind
        if rt.namespaced:
            meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(next(self._versions))
        meta["creationTimestamp"] = rfc3339(self.clock())
        meta["generation"] = 1
        return obj

    def bump(self, obj: Obj) -> None:
        """A new resourceVersion for a changed object."""
        obj["metadata"]["resourceVersion"] = str(next(self._versions))

    def put(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store ``obj`` as is (controllers and seeding)."""
        meta = obj["metadata"]
        self.objects[(rt, meta.get("namespace", ""), meta["name"])] = obj
        return obj

    def remove(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """Drop an object at once; returns it (None if there was none)."""
        return self.objects.pop((rt, namespace, name), None)

    def find(self, rt: ResourceType, namespace: str | None = None) -> Iterator[Obj]:
        """Every object of ``rt`` (in ``namespace`` if given), sorted by name."""
        for (kind, ns, _), obj in sorted(self.objects.items(), key=lambda kv: kv[0][1:]):
            if kind == rt and (namespace is None or ns == namespace):
                yield obj

    def namespace_exists(self, name: str) -> bool:
        """Whether the namespace ``name`` exists."""
        return any(rt.kind == "Namespace" and n == name for rt, _, n in self.objects)

    # -- REST -----------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """GET one object, or 404."""
        obj = self.objects.get((rt, namespace, name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def list(self, rt: ResourceType, namespace: str | None, label_selector: str) -> Obj:
        """GET a collection, filtered by a ``labelSelector`` query string."""
        try:
            items = [copy.deepcopy(o) for o in self.find(rt, namespace)
                     if match_query(label_selector, o["metadata"].get("labels") or {})]
        except LabelSelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        return {"kind": f"{rt.kind}List", "apiVersion": rt.group_version,
                "metadata": {"resourceVersion": str(next(self._versions))}, "items": items}

    def create(self, rt: ResourceType, namespace: str, body: Obj) -> Obj:
        """POST: 404 if the namespace is missing, 409 if the name is taken, 422 if invalid."""
        if rt.namespaced and not self.namespace_exists(namespace):
            raise errors.not_found("namespaces", "", namespace)
        obj = copy.deepcopy(body)
        if rt.status_subresource:
            obj.pop("status", None)
        meta = obj.setdefault("metadata", {})
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        self.stamp(rt, obj, namespace)
        validate(rt, obj)
        if (rt, meta.get("namespace", ""), meta["name"]) in self.objects:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        if rt.kind == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj["status"] = {"phase": "Active"}
        return self.put(rt, obj)

    def patch(self, rt: ResourceType, namespace: str, name: str, body: Any, content_type: str,
              subresource: str | None = None) -> Obj:
        """PATCH (merge, strategic treated as merge, or JSON patch); status only via /status."""
        current = self.get(rt, namespace, name)
        if "json-patch" in content_type:
            patched = _json_patch(current, body)
        else:
            patched = merge_patch(current, body)
        return self._write(rt, current, patched, subresource)

    def replace(self, rt: ResourceType, namespace: str, name: str, body: Obj,
                subresource: str | None = None) -> Obj:
        """PUT the whole object (the body's resourceVersion, if any, must be current)."""
        current = self.get(rt, namespace, name)
        return self._write(rt, current, copy.deepcopy(body), subresource)

    def _write(self, rt: ResourceType, current: Obj, new: Obj, subresource: str | None) -> Obj:
        meta = current["metadata"]
        wanted_version = (new.get("metadata") or {}).get("resourceVersion")
        if wanted_version and wanted_version != meta["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, meta["name"])
        result = copy.deepcopy(current)
        if subresource == "status":
            result["status"] = new.get("status", {})
        else:
            result["spec"] = new.get("spec", result.get("spec"))
            for key in ("labels", "annotations"):
                if key in (new.get("metadata") or {}):
                    result["metadata"][key] = new["metadata"][key]
            if not rt.status_subresource and "status" in new:
                result["status"] = new["status"]
        validate(rt, result)
        if result.get("spec") != current.get("spec"):
            result["metadata"]["generation"] = meta.get("generation", 1) + 1
        self.bump(result)
        return self.put(rt, result)

    def delete(self, rt: ResourceType, namespace: str, name: str,
               options: Mapping[str, Any]) -> Obj:
        """DELETE with preconditions; pods honour ``gracePeriodSeconds`` (0: at once)."""
        obj = self.get(rt, namespace, name)
        meta = obj["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise errors.uid_precondition_failed(rt.plural, rt.group, name, pre["uid"],
                                                 meta["uid"])
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        if rt.kind == "Pod":
            return self._delete_pod(obj, options)
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = rfc3339(self.clock())
                self.bump(obj)
                self.on_finalize(rt, obj)
            return obj
        self.remove(rt, namespace, name)
        if rt.kind == "Namespace":
            for key in [k for k in self.objects if k[1] == name]:
                del self.objects[key]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural,
                            "uid": meta["uid"]}}

    def _delete_pod(self, pod: Obj, options: Mapping[str, Any]) -> Obj:
        meta = pod["metadata"]
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        grace = int(grace)
        if grace == 0 or not pod.get("spec", {}).get("nodeName"):
            self.remove(POD, meta["namespace"], meta["name"])
            self.deadlines.pop(meta["uid"], None)
            return pod
        deadline = self.clock() + grace
        if meta["uid"] not in self.deadlines or deadline < self.deadlines[meta["uid"]]:
            self.deadlines[meta["uid"]] = deadline
            meta["deletionTimestamp"] = rfc3339(deadline)
            meta["deletionGracePeriodSeconds"] = grace
            self.bump(pod)
        return pod
