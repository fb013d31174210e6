"""Target files: schema, errors (with field paths), sandbox agreement, selectors, secrets."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from chaosgate.exceptions import EXIT_USAGE, TargetError
from chaosgate.sandbox.topology import DEFAULT_BASE_PORT, build_topology
from chaosgate.targets import (
    Safety,
    Selector,
    SelectorError,
    Target,
    dump_target,
    load_target,
    parse_duration,
    parse_target,
    render_sandbox_target,
)

TARGETS = Path(__file__).resolve().parents[2] / "targets"
DELETE = object()


def sandbox_doc(base: int = DEFAULT_BASE_PORT) -> dict[str, Any]:
    return render_sandbox_target(build_topology(Path(".chaosgate/sandbox"), base))


def k8s_doc() -> dict[str, Any]:
    return {
        "apiVersion": "chaosgate/v1",
        "kind": "Target",
        "name": "prod",
        "platform": {"type": "kubernetes", "context": "prod"},
        "prometheus": {
            "url": "https://prometheus.example.com",
            "scrape_interval": "30s",
            "auth": {"bearer_token_env": "PROM_TOKEN"},
            "tls": {"ca_file": "/etc/ca.pem"},
        },
        "ingress": {"url": "https://shop.example.com"},
        "namespace": "shop",
        "services": {
            "gateway": {"selector": "app=gateway", "replicas": 3},
            "orders": {"selector": "app=orders", "namespace": "shop"},
            "pg0": {"selector": "cnpg.io/instanceName=shop-db-1"},
            "pg1": {"selector": "cnpg.io/instanceName=shop-db-2"},
        },
        "links": [
            {"name": "gateway-orders", "from": "gateway", "to": "orders"},
            {"name": "orders-pg0", "from": "orders", "to": "pg0"},
            {"name": "orders-pg1", "from": "orders", "to": "pg1"},
        ],
        "dependencies": {"postgres": {"links": ["orders-pg0", "orders-pg1"]}},
        "database": {"type": "cloudnativepg", "cluster": "shop-db"},
        "safety": {"namespaces": ["shop"], "max_percent_per_fault": 34},
    }


def patroni_doc() -> dict[str, Any]:
    """A processes-style Patroni database block on :func:`k8s_doc` (its schema errors come
    before what Kubernetes can do is checked)."""
    return edited(k8s_doc(), {"database": {
        "type": "patroni", "scope": "shop-db",
        "members": [{"name": "pg0", "patroni_url": "http://pg0.shop.svc:8008"},
                    {"name": "pg1", "patroni_url": "http://pg1.shop.svc:8008"}]}})


def edited(doc: dict[str, Any], changes: Mapping[str, object]) -> dict[str, Any]:
    """A deep copy of ``doc`` with ``{"a.b[1].c": value}`` set (or removed: DELETE)."""
    doc = copy.deepcopy(doc)
    for dotted, value in changes.items():
        parts: list[str | int] = [
            int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", dotted)
        ]
        node: Any = doc
        for part in parts[:-1]:
            node = node[part]
        if value is DELETE:
            del node[parts[-1]]
        else:
            node[parts[-1]] = value
    return doc


def error_of(fn: Callable[[], object]) -> TargetError:
    with pytest.raises(TargetError) as info:
        fn()
    return info.value


# -- the shipped files ---------------------------------------------------------


def test_sandbox_yaml_is_the_rendered_default_topology() -> None:
    topo = build_topology(Path(".chaosgate/sandbox"), DEFAULT_BASE_PORT)
    on_disk = yaml.safe_load((TARGETS / "sandbox.yaml").read_text())
    assert on_disk == render_sandbox_target(topo)

    target = load_target(TARGETS / "sandbox.yaml")
    assert target.is_sandbox and target.platform.type == "processes"
    assert target.sandbox is not None
    assert target.sandbox.base_port == DEFAULT_BASE_PORT
    assert target.sandbox.state_dir == Path(".chaosgate/sandbox")
    assert target.platform.supervisor is not None
    assert target.platform.supervisor.url == topo.supervisor_url
    assert [(p.name, dict(p.labels)) for p in target.platform.programs] == [
        (p.name, p.labels) for p in topo.pods]
    assert target.prometheus.url == topo.prometheus_url
    assert target.prometheus.scrape_interval == 1.0
    assert target.ingress_url == topo.ingress_url
    assert target.faultproxy_url == topo.faultproxy_url
    assert target.database is not None
    assert [(m.name, m.patroni_url) for m in target.database.members] == [
        (m.name, f"http://127.0.0.1:{m.rest_port}") for m in topo.db_members
    ]
    assert [(x.name, x.source, x.destination) for x in target.links] == [
        (x.name, x.source, x.destination) for x in topo.links
    ]
    assert target.sandbox_topology() == build_topology(Path(".chaosgate/sandbox").absolute(),
                                                       DEFAULT_BASE_PORT)
    for service in target.services:
        pods = [p for p in topo.pods if service.selector.matches(p.labels)]
        assert pods == list(topo.pods_of(service.name))
        assert service.replicas == len(pods)


def test_kubernetes_example_loads() -> None:
    target = load_target(TARGETS / "kubernetes.example.yaml")
    assert not target.is_sandbox
    assert target.platform.type == "kubernetes"
    assert target.namespace == "shop"
    assert target.prometheus.auth is not None
    assert target.prometheus.auth.bearer_token_env == "PROM_TOKEN"
    assert target.prometheus.url.startswith("https://")
    assert target.database is not None and target.database.type == "cloudnativepg"
    assert target.links_of("postgres")[0].destination == "shop-db"
    assert target.safety.allows_namespace("shop")
    assert not target.safety.allows_namespace("kube-system")


def test_kubernetes_example_with_other_databases() -> None:
    doc = yaml.safe_load((TARGETS / "kubernetes.example.yaml").read_text())
    database = {"type": "rds", "cluster_identifier": "shop-db", "region": "eu-west-1"}
    target = parse_target(edited(doc, {"database": database}), "example")
    assert target.database is not None and target.database.type == "rds"


def test_render_sandbox_target_for_another_base_port(tmp_path: Path) -> None:
    topo = build_topology(tmp_path / "state", 52000)
    doc = render_sandbox_target(topo)
    written = dump_target(doc, tmp_path / "out" / "target.yaml")
    target = load_target(written)
    assert target == parse_target(doc, "memory")
    assert target.sandbox is not None
    assert target.sandbox.base_port == 52000
    assert target.sandbox.state_dir == tmp_path / "state"
    assert target.prometheus.url == "http://127.0.0.1:52002"
    assert target.ingress_url == "http://127.0.0.1:52000"
    assert target.faultproxy_url == "http://127.0.0.1:52004"
    assert target.database is not None
    assert [m.patroni_url for m in target.database.members] == [
        "http://127.0.0.1:52032", "http://127.0.0.1:52033"]
    assert target.link("orders-pg1").destination == "pg1"


def test_dump_target_refuses_an_invalid_document(tmp_path: Path) -> None:
    err = error_of(lambda: dump_target(edited(sandbox_doc(), {"kind": "Nope"}),
                                       tmp_path / "t.yaml"))
    assert err.field == "kind"
    assert not (tmp_path / "t.yaml").exists()


def test_defaults() -> None:
    doc = edited(k8s_doc(), {"safety": DELETE, "namespace": DELETE, "links": DELETE,
                             "dependencies": DELETE, "database": DELETE,
                             "prometheus.auth": DELETE, "prometheus.tls": DELETE})
    target = parse_target(doc, "t")
    assert target.namespace == "default"
    assert target.service("gateway").namespace == "default"
    assert target.service("orders").namespace == "shop"
    assert target.safety == Safety(namespaces=("default",))
    assert target.links == () and target.database is None
    sandbox = parse_target(edited(sandbox_doc(), {"sandbox": {}}), "t")
    assert sandbox.sandbox is not None
    assert sandbox.sandbox.base_port == DEFAULT_BASE_PORT
    assert sandbox.sandbox.state_dir == Path(".chaosgate/sandbox")
    assert sandbox.sandbox.system == "shop"


def test_history_store_path() -> None:
    """``history:`` moves the store every game day run is appended to; none by default."""
    assert parse_target(k8s_doc(), "t").history is None
    target = parse_target(edited(k8s_doc(), {"history": "/var/lib/chaosgate/prod.sqlite"}), "t")
    assert target.history == Path("/var/lib/chaosgate/prod.sqlite")
    with pytest.raises(TargetError) as info:
        parse_target(edited(k8s_doc(), {"history": ""}), "t")
    assert "history" in str(info.value)


# -- errors: each names the field ----------------------------------------------

ERRORS: list[tuple[str, Callable[[], dict[str, Any]], dict[str, object], str, str]] = [
    # (id, base document, changes, field, words in the message)
    ("api-version", k8s_doc, {"apiVersion": "chaosgate/v2"}, "apiVersion", "chaosgate/v1"),
    ("kind", k8s_doc, {"kind": "Experiment"}, "kind", "kind: Target"),
    ("missing-name", k8s_doc, {"name": DELETE}, "name", "required key is missing"),
    ("missing-prometheus", k8s_doc, {"prometheus": DELETE}, "prometheus", "add `prometheus:"),
    ("unknown-top", k8s_doc, {"sevices": {}}, "sevices", "did you mean 'services'"),
    ("unknown-nested", k8s_doc, {"services.orders.selectr": "app=x"},
     "services.orders.selectr", "did you mean 'selector'"),
    ("unknown-platform-type", k8s_doc, {"platform.type": "kubernets"}, "platform.type",
     "did you mean 'kubernetes'"),
    ("other-platform-key", k8s_doc, {"platform.programs": {}}, "platform.programs",
     "only valid for type processes"),
    ("old-sandbox-platform", sandbox_doc, {"platform": {"type": "sandbox", "base_port": 27000}},
     "platform.type", "re-run `chaosgate sandbox up`"),
    ("in-cluster-and-context", k8s_doc, {"platform.in_cluster": True}, "platform.in_cluster",
     "cannot be combined"),
    ("in-cluster-string", k8s_doc, {"platform.in_cluster": "yes"}, "platform.in_cluster",
     "expected true or false"),
    ("replicas-type", k8s_doc, {"services.orders.replicas": "two"},
     "services.orders.replicas", "expected a whole number, got a string ('two')"),
    ("replicas-bool", k8s_doc, {"services.orders.replicas": True},
     "services.orders.replicas", "got a boolean"),
    ("replicas-zero", k8s_doc, {"services.orders.replicas": 0},
     "services.orders.replicas", "out of range"),
    ("services-list", k8s_doc, {"services": ["orders"]}, "services", "expected a mapping"),
    ("services-empty", k8s_doc, {"services": {}}, "services", "no services"),
    ("service-not-mapping", k8s_doc, {"services.orders": "app=orders"}, "services.orders",
     "expected a mapping"),
    ("service-name", k8s_doc, {"services.bad name": {"selector": "app=x"}},
     "services.bad name", "not a valid name"),
    ("selector", k8s_doc, {"services.orders.selector": "app in (a"},
     "services.orders.selector", "unclosed"),
    ("selector-empty", k8s_doc, {"services.orders.selector": " "},
     "services.orders.selector", "non-empty string"),
    ("namespace", k8s_doc, {"namespace": "Shop_1"}, "namespace", "not a valid Kubernetes"),
    ("url-no-scheme", k8s_doc, {"prometheus.url": "prometheus:9090"}, "prometheus.url",
     "http:// or https://"),
    ("url-ftp", k8s_doc, {"ingress.url": "ftp://shop.example.com"}, "ingress.url",
     "http:// or https://"),
    ("url-port", k8s_doc, {"ingress.url": "http://shop:99999"}, "ingress.url",
     "not a valid URL"),
    ("url-credentials", k8s_doc, {"prometheus.url": "https://u:pw@prom.example.com"},
     "prometheus.url", "credentials may not be written in a URL"),
    ("faultproxy-url", k8s_doc, {"faultproxy": {"url": "toxiproxy:8474"}}, "faultproxy.url",
     "http:// or https://"),
    ("duration-text", k8s_doc, {"prometheus.scrape_interval": "1 sec"},
     "prometheus.scrape_interval", "not a duration"),
    ("duration-zero", k8s_doc, {"prometheus.scrape_interval": "0s"},
     "prometheus.scrape_interval", "zero"),
    ("duration-number", k8s_doc, {"prometheus.scrape_interval": 15},
     "prometheus.scrape_interval", "expected a duration string"),
    ("duration-huge", k8s_doc, {"prometheus.scrape_interval": "99999999999999d"},
     "prometheus.scrape_interval", "longer than 1 hour"),
    ("inline-bearer", k8s_doc, {"prometheus.auth": {"bearer_token": "abc"}},
     "prometheus.auth.bearer_token", "bearer_token_env"),
    ("inline-password", k8s_doc,
     {"prometheus.auth": {"basic": {"username": "u", "password": "hunter2"}}},
     "prometheus.auth.basic.password", "password_env"),
    ("two-auth-methods", k8s_doc,
     {"prometheus.auth.basic": {"username": "u", "password_env": "P"}},
     "prometheus.auth.basic", "keep one"),
    ("env-and-file", k8s_doc, {"prometheus.auth.bearer_token_file": "/t"},
     "prometheus.auth.bearer_token_file", "both"),
    ("env-name", k8s_doc, {"prometheus.auth.bearer_token_env": "ey.J-token"},
     "prometheus.auth.bearer_token_env", "not an environment variable name"),
    ("basic-no-password", k8s_doc, {"prometheus.auth": {"basic": {"username": "u"}}},
     "prometheus.auth.basic.password_env", "password_file"),
    ("tls-http", k8s_doc, {"prometheus.url": "http://prom:9090"}, "prometheus.tls",
     "not https://"),
    ("tls-both", k8s_doc, {"prometheus.tls.insecure_skip_verify": True},
     "prometheus.tls.insecure_skip_verify", "ignored"),
    ("link-to-unknown", k8s_doc, {"links[2].to": "pg2"}, "links[2].to",
     "did you mean 'pg1'"),
    ("link-from-unknown", k8s_doc, {"links[0].from": "gatewey"}, "links[0].from",
     "not a service, database member or dependency"),
    ("link-to-itself", k8s_doc, {"links[0].to": "gateway"}, "links[0].to", "itself"),
    ("link-twice", k8s_doc, {"links[1].name": "gateway-orders"}, "links[1].name", "twice"),
    ("link-not-mapping", k8s_doc, {"links[1]": "orders-pg0"}, "links[1]",
     "expected a mapping"),
    ("links-not-list", k8s_doc, {"links": {"a": 1}}, "links", "expected a list"),
    ("dependency-unknown-link", k8s_doc, {"dependencies.postgres.links[1]": "orders-pg9"},
     "dependencies.postgres.links[1]", "no link named 'orders-pg9'"),
    ("dependency-empty", k8s_doc, {"dependencies.postgres.links": []},
     "dependencies.postgres.links", "no links"),
    ("dependency-is-service", k8s_doc, {"dependencies.orders": {"links": ["orders-pg0"]}},
     "dependencies.orders", "already a service"),
    ("database-type", k8s_doc, {"database.type": "mysql"}, "database.type", "patroni"),
    ("database-other-key", k8s_doc, {"database.region": "eu-west-1"}, "database.region",
     "only valid for type rds"),
    ("member-twice", patroni_doc, {"database.members[1].name": "pg0"},
     "database.members[1].name", "twice"),
    ("member-url", patroni_doc, {"database.members[0].patroni_url": "pg0:8008"},
     "database.members[0].patroni_url", "http:// or https://"),
    ("no-members", patroni_doc, {"database.members": [], "links": DELETE,
                                 "dependencies": DELETE},
     "database.members", "needs its members"),
    ("rds-region", k8s_doc,
     {"database": {"type": "rds", "cluster_identifier": "db", "region": "Europe"},
      "links": DELETE, "dependencies": DELETE}, "database.region", "not an AWS region"),
    ("percent-high", k8s_doc, {"safety.max_percent_per_fault": 150},
     "safety.max_percent_per_fault", "outside 0-100"),
    ("percent-zero", k8s_doc, {"safety.max_percent_per_fault": 0},
     "safety.max_percent_per_fault", "outside 0-100"),
    ("max-pods", k8s_doc, {"safety.max_pods_per_fault": 0}, "safety.max_pods_per_fault",
     "out of range"),
    ("allowlist-empty", k8s_doc, {"safety.namespaces": []}, "safety.namespaces", "empty"),
    ("allowlist-entry", k8s_doc, {"safety.namespaces": ["shop", 3]}, "safety.namespaces[1]",
     "expected a non-empty string"),
    ("sandbox-base-port-alone", sandbox_doc, {"sandbox.base_port": 48000}, "prometheus.url",
     "http://127.0.0.1:48002"),
    ("sandbox-supervisor", sandbox_doc, {"platform.supervisor.url": "http://127.0.0.1:1/RPC2"},
     "platform.supervisor.url", "http://127.0.0.1:27003/RPC2"),
    ("sandbox-program", sandbox_doc, {"platform.programs.orders-7": {"labels": {"app": "x"}}},
     "platform.programs.orders-7", "runs no pod"),
    ("sandbox-selector", sandbox_doc, {"services.orders.selector": "app=payments"},
     "services.orders.selector", "selects no program"),
    ("sandbox-base-port-range", sandbox_doc, {"sandbox.base_port": 80},
     "sandbox.base_port", "from 1024 to 65475"),
    ("sandbox-on-kubernetes", k8s_doc, {"sandbox": {"base_port": 27000}}, "sandbox",
     "supervisord"),
]


@pytest.mark.parametrize(("base", "changes", "field", "words"),
                         [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_the_field(base: Callable[[], dict[str, Any]], changes: dict[str, object],
                               field: str, words: str) -> None:
    err = error_of(lambda: parse_target(edited(base(), changes), "t.yaml"))
    assert err.field == field
    assert str(err).startswith(f"t.yaml: {field}: ")
    assert words in str(err)
    assert "Fix: " in str(err) and err.fix
    assert err.exit_code == EXIT_USAGE


def test_inline_secret_value_is_not_echoed() -> None:
    doc = edited(k8s_doc(), {"prometheus.auth": {"bearer_token": "s3cr3t-value"}})
    assert "s3cr3t-value" not in str(error_of(lambda: parse_target(doc, "t")))
    doc = edited(k8s_doc(), {"prometheus.url": "https://u:s3cr3t-value@prom"})
    assert "s3cr3t" not in error_of(lambda: parse_target(doc, "t")).problem


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(text)
    return path


def test_file_errors(tmp_path: Path) -> None:
    err = error_of(lambda: load_target(tmp_path / "nope.yaml"))
    assert err.path == str(tmp_path / "nope.yaml") and "file not found" in err.problem
    assert "file is empty" in str(error_of(lambda: load_target(write(tmp_path, "# hi\n"))))
    assert "not a mapping" in str(error_of(lambda: load_target(write(tmp_path, "- a\n"))))
    err = error_of(lambda: load_target(tmp_path))
    assert "is a folder" in err.problem


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: chaosgate/v1\nkind: Target\nname: [oops\nplatform: x\n")
    err = error_of(lambda: load_target(path))
    assert "YAML syntax error at line" in err.problem
    assert err.path == str(path)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: chaosgate/v1\nkind: Target\nkind: Target\n")
    err = error_of(lambda: load_target(path))
    assert err.field == "kind" and "line 3" in err.problem and "twice" in err.problem


def test_load_errors_carry_the_line(tmp_path: Path) -> None:
    doc = edited(sandbox_doc(), {"links[2].to": "pg7"})
    path = write(tmp_path, yaml.safe_dump(doc, sort_keys=False))
    err = error_of(lambda: load_target(path))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "pg7" in text)
    assert str(err).startswith(f"{path}:{line}: links[2].to: ")
    assert err.path == str(path) and err.field == "links[2].to"
    # a missing key is located at its parent
    doc = edited(sandbox_doc(), {"services.orders.selector": DELETE})
    path = write(tmp_path, yaml.safe_dump(doc, sort_keys=False))
    line = path.read_text().splitlines().index("  orders:") + 1
    assert str(error_of(lambda: load_target(path))).startswith(
        f"{path}:{line}: services.orders.selector: required key is missing")


# -- lookups -------------------------------------------------------------------


def test_lookups() -> None:
    target = parse_target(sandbox_doc(), "t")
    assert target.link("gateway-orders").source == "gateway"
    assert target.dependency("etcd").links == ("pg0-etcd", "pg1-etcd")
    assert target.service("catalog").selector == Selector.parse("app = catalog")
    err = error_of(lambda: target.link("gateway-order"))
    assert err.field == "links" and "did you mean 'gateway-orders'" in err.fix
    assert "did you mean 'postgres'" in error_of(lambda: target.dependency("postgre")).fix
    assert error_of(lambda: target.service("payments")).field == "services"
    k8s = parse_target(k8s_doc(), "t")
    assert error_of(lambda: k8s.sandbox_topology()).field == "sandbox"


def test_service_for_selector() -> None:
    target = parse_target(sandbox_doc(), "t")
    assert target.service_for_selector("app=orders") is target.service("orders")
    assert target.service_for_selector("app==orders") is target.service("orders")
    assert target.service_for_selector("tier=backend,app=orders") is target.service("orders")
    assert target.service_for_selector("tier=backend") is None
    assert target.service_for_selector("app=orders", namespace="other") is None
    assert target.service_for_selector(Selector.parse("app=catalog")) is target.service("catalog")


def test_safety_allowlist() -> None:
    safety = Safety(namespaces=("shop", "team-*", "*"))
    assert safety.allows_namespace("shop") and safety.allows_namespace("team-a")
    assert safety.allows_namespace("anything")
    assert not safety.allows_namespace("kube-system")
    assert Safety(namespaces=("kube-system",)).allows_namespace("kube-system")
    assert not Safety(namespaces=("kube-*",)).allows_namespace("kube-public")
    target = parse_target(edited(k8s_doc(), {"safety.namespaces": ["shop", "kube-system"]}),
                          "t")
    assert target.safety.allows_namespace("kube-system")


# -- credentials -----------------------------------------------------------------


def test_bearer_token_from_env_at_call_time() -> None:
    prometheus = parse_target(k8s_doc(), "t.yaml").prometheus
    assert "PROM_TOKEN" in repr(prometheus)
    creds = prometheus.credentials({"PROM_TOKEN": "s3cr3t"})
    assert creds.headers() == {"Authorization": "Bearer s3cr3t"}
    assert "s3cr3t" not in repr(creds) and "s3cr3t" not in str(creds)
    err = error_of(lambda: prometheus.credentials({}))
    assert err.field == "prometheus.auth.bearer_token_env" and "PROM_TOKEN" in err.problem
    assert err.path == "t.yaml"
    assert prometheus.verify == "/etc/ca.pem"


def test_bearer_token_from_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("file-secret\n")
    auth = {"bearer_token_file": str(token)}
    prometheus = parse_target(edited(k8s_doc(), {"prometheus.auth": auth}), "t").prometheus
    assert prometheus.credentials({}).headers() == {"Authorization": "Bearer file-secret"}
    token.unlink()
    err = error_of(lambda: prometheus.credentials({}))
    assert err.field == "prometheus.auth.bearer_token_file"


def test_basic_auth_from_env() -> None:
    auth = {"basic": {"username": "alice", "password_env": "PROM_PASSWORD"}}
    prometheus = parse_target(edited(k8s_doc(), {"prometheus.auth": auth}), "t").prometheus
    creds = prometheus.credentials({"PROM_PASSWORD": "hunter2"})
    assert creds.headers() == {"Authorization": "Basic YWxpY2U6aHVudGVyMg=="}
    assert "hunter2" not in repr(creds) and creds.username == "alice"
    err = error_of(lambda: prometheus.credentials({"PROM_PASSWORD": ""}))
    assert err.field == "prometheus.auth.basic.password_env"


def test_no_auth_and_insecure_tls() -> None:
    doc = edited(k8s_doc(), {"prometheus.auth": DELETE,
                             "prometheus.tls": {"insecure_skip_verify": True}})
    prometheus = parse_target(doc, "t").prometheus
    assert prometheus.credentials({}).headers() == {}
    assert prometheus.verify is False


# -- durations -------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("1s", 1.0), ("2m", 120.0), ("1h30m", 5400.0), ("1d", 86400.0),
    ("1m500ms", 60.5),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "1.5s", "s", "1sec", "-1s", "0ms", "1s1m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# -- selectors -------------------------------------------------------------------


def test_selector_forms() -> None:
    pod = {"app": "orders", "tier": "backend"}
    assert Selector.parse("app=orders,tier=backend").matches(pod)
    assert not Selector.parse("app=orders,tier=frontend").matches(pod)
    assert Selector.parse("app!=catalog").matches(pod)
    assert Selector.parse("zone!=a").matches(pod)  # absent label: != holds
    assert Selector.parse("app in (orders, catalog)").matches(pod)
    assert not Selector.parse("app notin (orders)").matches(pod)
    assert Selector.parse("tier,!zone").matches(pod)
    assert not Selector.parse("zone").matches(pod)
    assert str(Selector.parse(" tier = backend , app in (b,a,a) ")) == "app in (a,b),tier=backend"
    assert Selector.parse("example.com/team=x").matches({"example.com/team": "x"})


def test_selector_to_kubernetes() -> None:
    selector = Selector.parse("app=orders,tier!=db,zone in (a,b),gpu,!spot")
    assert selector.to_kubernetes() == {
        "matchLabels": {"app": "orders"},
        "matchExpressions": [
            {"key": "gpu", "operator": "Exists"},
            {"key": "spot", "operator": "DoesNotExist"},
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
            {"key": "zone", "operator": "In", "values": ["a", "b"]},
        ],
    }


@pytest.mark.parametrize("text", [
    "", ",", "app=orders,", "app in ()", "app in (a,)", "app in (a", "app)=x", "app in ((a))",
    "-app=x", "app=-x", "app=a b", "a/b/c=x", "app===x", f"app={'x' * 64}",
])
def test_selector_errors(text: str) -> None:
    with pytest.raises(SelectorError):
        Selector.parse(text)


KEYS = st.sampled_from(["app", "tier", "zone", "example.com/team", "a.b_c-d"])
VALUES = st.sampled_from(["orders", "catalog", "x", "a-b.c_d", "1"])
SPACE = st.sampled_from(["", " ", "  "])


@st.composite
def requirements(draw: st.DrawFn) -> tuple[str, Callable[[Mapping[str, str]], bool]]:
    """A selector term as text, and an independent predicate for what it means."""
    key, s1, s2 = draw(KEYS), draw(SPACE), draw(SPACE)
    kind = draw(st.sampled_from(["eq", "ne", "in", "notin", "exists", "absent"]))
    if kind in ("eq", "ne"):
        value = draw(st.one_of(VALUES, st.just("")))
        op = "!=" if kind == "ne" else draw(st.sampled_from(["=", "=="]))
        if kind == "eq":
            return f"{s1}{key}{s2}{op}{s2}{value}{s1}", lambda lb: lb.get(key) == value
        return f"{key}{s1}{op}{s2}{value}", lambda lb: lb.get(key) != value
    if kind in ("in", "notin"):
        values = draw(st.lists(VALUES, min_size=1, max_size=3))
        text = f"{s1}{key} {kind}{s2}({s2}{f'{s1},{s2}'.join(values)}{s1}){s2}"
        if kind == "in":
            return text, lambda lb: key in lb and lb[key] in values
        return text, lambda lb: lb.get(key) not in values
    if kind == "exists":
        return f"{s1}{key}{s2}", lambda lb: key in lb
    return f"{s1}!{s2}{key}", lambda lb: key not in lb


@given(st.lists(requirements(), min_size=1, max_size=4),
       st.dictionaries(KEYS, st.one_of(VALUES, st.just("")), max_size=4))
def test_selector_matches_like_its_meaning(
    terms: list[tuple[str, Callable[[Mapping[str, str]], bool]]], labels: dict[str, str],
) -> None:
    selector = Selector.parse(",".join(text for text, _ in terms))
    assert selector.matches(labels) == all(meaning(labels) for _, meaning in terms)
    assert Selector.parse(str(selector)) == selector
    assert Selector.parse(str(selector)).matches(labels) == selector.matches(labels)


@given(st.text(alphabet="ab=!,() inotx/.-", max_size=20))
def test_selector_parser_only_raises_selector_error(text: str) -> None:
    try:
        selector = Selector.parse(text)
    except SelectorError:
        return
    assert Selector.parse(str(selector)) == selector


def test_target_is_frozen_and_hashable() -> None:
    target = parse_target(sandbox_doc(), "t")
    with pytest.raises(AttributeError):
        target.name = "x"  # type: ignore[misc]
    assert hash(target) == hash(parse_target(sandbox_doc(), "other"))
    assert isinstance(target, Target)
