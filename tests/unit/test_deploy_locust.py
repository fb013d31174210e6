"""deploy/locust/: the manifests are valid Kubernetes objects and agree with each other
and with chaosgate (no cluster needed).

Each object is deserialized into the Kubernetes client's models (required
fields, types), its labels and selectors must match, the workers must reach
the master's Service on the master's port and be as many as it expects, and
the ConfigMap's profile, locustfile and target must be what chaosgate's own
parsers accept; the commands must be ones chaosgate's CLI accepts.
"""

from __future__ import annotations

import ast
import json
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from kubernetes.client import ApiClient

from chaosgate.cli import app
from chaosgate.load.profiles import parse_conf
from chaosgate.targets import parse_target

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "locust"
MODELS = {("apps/v1", "Deployment"): "V1Deployment", ("v1", "Service"): "V1Service",
          ("v1", "ConfigMap"): "V1ConfigMap"}


def objects() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def find(kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name)


def flags(args: list[str]) -> dict[str, str]:
    """``--key value`` and ``--key=value`` pairs of a command line."""
    out: dict[str, str] = {}
    for i, word in enumerate(args):
        if word.startswith("--"):
            key, eq, value = word.partition("=")
            nxt = args[i + 1] if i + 1 < len(args) else ""
            out[key] = value if eq else ("" if nxt.startswith("--") else nxt)
    return out


def master_command() -> list[str]:
    container = find("Deployment", "chaosgate-locust-master")["spec"]["template"]["spec"][
        "containers"][0]
    script = container["args"][0]
    first = script.split(";")[0]
    return shlex.split(first)


def worker_container() -> dict[str, Any]:
    return find("Deployment", "chaosgate-locust-worker")["spec"]["template"]["spec"][
        "containers"][0]


def test_every_object_is_a_valid_kubernetes_object() -> None:
    client = ApiClient()
    kinds = []
    for obj in objects():
        model = MODELS[(obj["apiVersion"], obj["kind"])]
        # the client's own deserializer: unknown types, wrong shapes and missing
        # required fields (containers, selector, ...) raise
        typed = client._ApiClient__deserialize(json.loads(json.dumps(obj)), model)  # type: ignore[attr-defined]
        assert client.sanitize_for_serialization(typed)["metadata"]["name"]
        assert obj["metadata"]["namespace"] == "chaosgate"
        kinds.append(obj["kind"])
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Deployment", "Service"]


@pytest.mark.parametrize("name", ["chaosgate-locust-master", "chaosgate-locust-worker"])
def test_deployments_select_their_own_pods_and_bound_their_resources(name: str) -> None:
    spec = find("Deployment", name)["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    for container in spec["template"]["spec"]["containers"]:
        assert {"requests", "limits"} <= set(container["resources"])
        mounts = {m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"] for v in spec["template"]["spec"]["volumes"]}
        assert mounts <= volumes


def test_the_workers_reach_the_master_and_are_as_many_as_it_expects() -> None:
    service = find("Service", "chaosgate-locust-master")
    master = find("Deployment", "chaosgate-locust-master")
    assert service["spec"]["selector"].items() <= master["spec"]["template"]["metadata"][
        "labels"].items()
    master_flags = flags(master_command())
    worker = flags(worker_container()["args"])
    port = service["spec"]["ports"][0]
    assert worker["--master-host"] == service["metadata"]["name"]
    assert int(worker["--master-port"]) == port["port"] == int(master_flags["--master-port"])
    container_port = master["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    assert port["targetPort"] == container_port["name"]
    assert container_port["containerPort"] == int(master_flags["--master-port"])
    replicas = find("Deployment", "chaosgate-locust-worker")["spec"]["replicas"]
    assert int(master_flags["--expect-workers"]) == replicas
    assert "--master" in master_flags


def test_the_configmap_holds_what_the_commands_name_in_forms_chaosgate_reads() -> None:
    data = find("ConfigMap", "chaosgate-load")["data"]
    mount = "/etc/chaosgate/load/"
    master_flags = flags(master_command())
    worker = flags(worker_container()["args"])
    for path in (master_flags["--target"], master_flags["--profile"], worker["--locustfile"]):
        assert path.startswith(mount) and path.removeprefix(mount) in data
    conf = parse_conf(data["open.conf"])
    assert conf["locustfile"].removeprefix(mount) in data
    assert conf["open-model"] == "true"
    ast.parse(data["shop.py"])  # a locustfile that at least parses
    target = parse_target(yaml.safe_load(data["target.yaml"]))
    assert target.ingress_url.startswith("http")


@pytest.mark.parametrize("which", ["master", "worker"])
def test_the_commands_are_ones_chaosgate_accepts(which: str) -> None:
    if which == "master":
        args = master_command()[1:]  # after "chaosgate"
    else:
        args = [*worker_container()["command"][1:], *worker_container()["args"]]
    assert args[0] == "load"
    group = app.commands["load"]
    assert isinstance(group, click.Group)
    sub = group.commands[args[1]]
    known = {opt for param in sub.params for opt in (*param.opts, *param.secondary_opts)}
    given = {word.partition("=")[0] for word in args[2:] if word.startswith("--")}
    assert given <= known, given - known
