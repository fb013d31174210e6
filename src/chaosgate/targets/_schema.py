"""Validation of a target document (schema ``chaosgate/v1``) into the model.

One clear error at a time: the first problem found raises
:class:`~chaosgate.exceptions.TargetError` with the dotted field path, the
problem and the fix. Sections are checked in a fixed order (header,
platform, prometheus, ingress, faultproxy, namespace, services, database,
links, dependencies, safety, history, then sandbox consistency or what
Kubernetes can do), so the same file always reports the same first error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from ..sandbox.topology import DEFAULT_BASE_PORT, SYSTEMS
from ._kubernetes import check_kubernetes_target
from ._model import (
    API_VERSION,
    DEFAULT_LIMITS,
    KIND,
    LIMIT_CEILINGS,
    LIMIT_UNITS,
    BasicAuth,
    Database,
    DatabaseType,
    DbMember,
    Dependency,
    Link,
    PlatformConfig,
    PlatformType,
    PrometheusAuth,
    PrometheusConfig,
    Safety,
    SafetyLimits,
    Service,
    Target,
    TLSConfig,
    format_limit,
)
from ._reader import Fields, did_you_mean
from ._sandbox import check_sandbox_target
from ._selector import Selector, SelectorError
from ._stop import parse_stop_condition

__all__ = ["DEFAULT_STATE_DIR", "parse_target"]

DEFAULT_STATE_DIR = ".chaosgate/sandbox"

_TOP = ("apiVersion", "kind", "name", "platform", "prometheus", "ingress", "namespace",
        "services", "faultproxy", "links", "dependencies", "database", "safety", "history")
_PLATFORM_KEYS: dict[str, tuple[str, ...]] = {
    "sandbox": ("state_dir", "base_port", "system"),
    "kubernetes": ("kubeconfig", "context", "in_cluster"),
}
_DATABASE_KEYS: dict[str, tuple[str, ...]] = {
    "patroni": ("scope", "members"),
    "cloudnativepg": ("cluster", "namespace"),
    "rds": ("cluster_identifier", "region"),
}
_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_NAMESPACE_GLOB = re.compile(r"^[-a-z0-9*?\[\]]{1,63}$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEPENDENCIES_EXAMPLE = "{postgres: {links: [orders-pg0, orders-pg1]}}"
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")


def parse_target(doc: Mapping[str, Any], source: str = "<memory>") -> Target:
    """Validate ``doc`` (a parsed target file) and build the :class:`Target`.

    ``source`` names the file in error messages. Raises
    :class:`~chaosgate.exceptions.TargetError` for the first problem found.
    Does no I/O.
    """
    root = Fields.of(source, "", doc, "a mapping (apiVersion: chaosgate/v1, kind: Target, ...)")
    root.only(_TOP, "at the top level")
    for key, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        if root.string(key, wanted) != wanted:
            raise root.error(key, f"{root.data[key]!r} is not supported",
                             f"write `{key}: {wanted}` (this chaosgate reads {API_VERSION})")
    name = _name(root, "name", "my-cluster")
    platform = _platform(root.section("platform", "{type: sandbox}"))
    prometheus = _prometheus(root.section("prometheus", "{url: http://prometheus:9090, "
                                                        "scrape_interval: 30s}"))
    ingress_url = _url_section(root, "ingress", "https://shop.example.com")
    faultproxy_url = _url_section(root, "faultproxy", "http://toxiproxy:8474") \
        if "faultproxy" in root else None
    namespace = _namespace(root, "namespace") if "namespace" in root else "default"
    services = _services(root, namespace)
    database = _database(root.section("database", "{type: patroni}"), namespace) \
        if "database" in root else None
    dependency_names = list(root.section("dependencies", _DEPENDENCIES_EXAMPLE).data) \
        if "dependencies" in root else []
    endpoints = {"service": [s.name for s in services],
                 "database member": [m.name for m in database.members] if database else [],
                 "dependency": dependency_names}
    links = _links(root, endpoints)
    dependencies = _dependencies(root, endpoints, [link.name for link in links])
    target = Target(
        name=name, platform=platform, prometheus=prometheus,
        ingress_url=ingress_url, namespace=namespace,
        services=services, safety=_safety(root, namespace), links=links,
        dependencies=dependencies, faultproxy_url=faultproxy_url, database=database,
        history=Path(root.string("history", "reports/history.sqlite"))
        if "history" in root else None,
        source=source,
    )
    if target.is_sandbox:
        check_sandbox_target(target)
    elif target.platform.type == "kubernetes":
        check_kubernetes_target(target)
    return target


def _url_section(root: Fields, key: str, example: str) -> str:
    """A ``{url: ...}`` section's URL."""
    section = root.section(key, f"{{url: {example}}}")
    section.only(("url",))
    return section.url("url", example)


def _name(fields: Fields, key: str, example: str, value: str | None = None) -> str:
    """``fields[key]`` (or ``value``, a key of ``fields`` itself) checked as a name."""
    return fields.matching(key, example, _NAME, "a valid name",
                           "use letters, digits, '-', '_' and '.', starting and ending with a "
                           f"letter or digit, e.g. {example}", value)


def _namespace(fields: Fields, key: str) -> str:
    return fields.matching(key, "shop", _NAMESPACE, "a valid Kubernetes namespace",
                           "use lower-case letters, digits and '-', at most 63 characters")


def _choice(fields: Fields, key: str, choices: Collection[str]) -> str:
    value = fields.string(key, " | ".join(choices))
    if value not in choices:
        raise fields.error(key, f"{value!r} is not one of {', '.join(choices)}",
                           f"{did_you_mean(value, choices)}use one of: {', '.join(choices)}")
    return value


def _only_for(fields: Fields, key: str, kind: str, keys_by_kind: Mapping[str, tuple[str, ...]],
              always: tuple[str, ...]) -> None:
    """Refuse keys of another ``fields[key]`` kind, then any other unknown key."""
    for other, keys in keys_by_kind.items():
        for name in keys:
            if other != kind and name in fields and name not in keys_by_kind[kind]:
                raise fields.error(name, f"{name!r} is only valid for {key} {other}",
                                   f"remove it ({fields.path}.{key} is {kind})")
    fields.only((*always, *keys_by_kind[kind]), f"for {key} {kind}")


def _platform(f: Fields) -> PlatformConfig:
    kind = cast(PlatformType, _choice(f, "type", tuple(_PLATFORM_KEYS)))
    _only_for(f, "type", kind, _PLATFORM_KEYS, ("type",))
    if kind == "sandbox":
        state_dir = f.string("state_dir", DEFAULT_STATE_DIR) if "state_dir" in f \
            else DEFAULT_STATE_DIR
        base_port = f.integer("base_port", str(DEFAULT_BASE_PORT), 1024, 65475) \
            if "base_port" in f else DEFAULT_BASE_PORT
        system = _choice(f, "system", SYSTEMS) if "system" in f else "shop"
        return PlatformConfig(kind, state_dir=Path(state_dir), base_port=base_port,
                              system=system)
    in_cluster = f.boolean("in_cluster", False)
    kubeconfig = f.file("kubeconfig", "~/.kube/config")
    if in_cluster and (kubeconfig is not None or "context" in f):
        raise f.error("in_cluster", "in_cluster: true cannot be combined with kubeconfig "
                      "or context", "drop in_cluster, or drop kubeconfig and context")
    context = f.string("context", "my-context") if "context" in f else None
    return PlatformConfig(kind, kubeconfig=kubeconfig, context=context, in_cluster=in_cluster)


def _env_var(f: Fields, key: str) -> str:
    return f.matching(key, "PROM_TOKEN", _ENV_VAR, "an environment variable name",
                      "give the variable's name (letters, digits, '_'), not its value")


def _secret_source(f: Fields, stem: str) -> tuple[str | None, Path | None]:
    """Exactly one of ``<stem>_env`` and ``<stem>_file``."""
    env_key, file_key = f"{stem}_env", f"{stem}_file"
    if env_key in f and file_key in f:
        raise f.error(file_key, f"both {env_key} and {file_key} are set", "keep one of the two")
    if env_key not in f and file_key not in f:
        raise f.error(env_key, "required key is missing",
                      f"add `{env_key}: VARIABLE` or `{file_key}: /path/to/file`")
    env = _env_var(f, env_key) if env_key in f else None
    return env, f.file(file_key, "/var/run/secrets/prometheus/token")


#: Longest ``prometheus.scrape_interval`` (seconds): 1 hour. Server-side edges are
#: only as precise as one interval, and a load run lingers two of them at its end.
MAX_SCRAPE_INTERVAL_S = 3600.0


def _prometheus(f: Fields) -> PrometheusConfig:
    f.only(("url", "scrape_interval", "fail_within", "auth", "tls"))
    url = f.url("url", "http://prometheus.monitoring:9090")
    interval = f.duration("scrape_interval", "30s")
    if interval > MAX_SCRAPE_INTERVAL_S:
        raise f.error("scrape_interval", f"{interval:g} s is longer than 1 hour",
                      "give your Prometheus' scrape_interval, e.g. 15s or 30s (at most 1h)")
    fail_within = f.duration("fail_within", "3s") if "fail_within" in f else 0.0
    if fail_within > MAX_SCRAPE_INTERVAL_S:
        raise f.error("fail_within", f"{fail_within:g} s is longer than 1 hour",
                      "give the longest time a request of your system takes to fail (its "
                      "upstream timeout), e.g. 3s or 30s")
    auth = None
    if "auth" in f:
        a = f.section("auth", "{bearer_token_env: PROM_TOKEN}")
        a.only(("bearer_token_env", "bearer_token_file", "basic"))
        if "basic" in a and ("bearer_token_env" in a or "bearer_token_file" in a):
            raise a.error("basic", "both a bearer token and basic auth are set",
                          "keep one of the two")
        if "basic" in a:
            b = a.section("basic", "{username: u, password_env: PROM_PASSWORD}")
            b.only(("username", "password_env", "password_file"))
            password_env, password_file = _secret_source(b, "password")
            auth = PrometheusAuth(basic=BasicAuth(b.string("username", "prometheus"),
                                                  password_env, password_file))
        else:
            token_env, token_file = _secret_source(a, "bearer_token")
            auth = PrometheusAuth(bearer_token_env=token_env, bearer_token_file=token_file)
    tls = None
    if "tls" in f:
        t = f.section("tls", "{ca_file: /etc/ssl/prometheus-ca.pem}")
        t.only(("ca_file", "insecure_skip_verify"))
        tls = TLSConfig(t.file("ca_file", "/etc/ssl/prometheus-ca.pem"),
                        t.boolean("insecure_skip_verify", False))
        if tls.insecure_skip_verify and tls.ca_file is not None:
            raise t.error("insecure_skip_verify", "ca_file is ignored when verification is "
                          "skipped", "drop insecure_skip_verify, or drop ca_file")
        if not url.startswith("https://"):
            raise t.error(None, "tls is set but prometheus.url is not https://",
                          "use an https:// URL, or remove tls")
    return PrometheusConfig(url, interval, auth, tls, fail_within, source=f.source)


def _services(root: Fields, namespace: str) -> tuple[Service, ...]:
    services = []
    for name, f in root.sections("services", '{selector: "app=orders", replicas: 2}'):
        _name(root, f"services.{name}", "orders", name)
        f.only(("selector", "namespace", "replicas"))
        try:
            selector = Selector.parse(f.string("selector", '"app=orders"'))
        except SelectorError as exc:
            raise f.error("selector", str(exc), 'write it like `selector: "app=orders"` or '
                          '`selector: "app=orders,tier=backend"`') from None
        services.append(Service(
            name, selector,
            _namespace(f, "namespace") if "namespace" in f else namespace,
            f.integer("replicas", "2", 1, 100000) if "replicas" in f else None,
        ))
    if not services:
        raise root.error("services", "no services are listed",
                         'add at least one, e.g. `orders: {selector: "app=orders"}`')
    return tuple(services)


def _database(f: Fields, namespace: str) -> Database:
    kind = cast(DatabaseType, _choice(f, "type", tuple(_DATABASE_KEYS)))
    _only_for(f, "type", kind, _DATABASE_KEYS, ("type",))
    if kind == "cloudnativepg":
        return Database(kind, cluster=_name(f, "cluster", "shop-db"),
                        namespace=_namespace(f, "namespace") if "namespace" in f else namespace)
    if kind == "rds":
        return Database(kind, cluster_identifier=_name(f, "cluster_identifier", "shop-db"),
                        region=f.matching("region", "eu-west-1", _REGION, "an AWS region",
                                          "use e.g. eu-west-1"))
    scope = f.string("scope", "shop-db")
    members: list[DbMember] = []
    example = "{name: pg0, patroni_url: http://pg0:8008}"
    for path, value in f.items("members", f"[{example}]"):
        m = Fields.of(f.source, path, value, example)
        m.only(("name", "patroni_url"))
        name = _name(m, "name", "pg0")
        if name in (x.name for x in members):
            raise m.error("name", f"member {name!r} is listed twice", "give each member once")
        members.append(DbMember(name, m.url("patroni_url", "http://pg0:8008")))
    if not members:
        raise f.error("members", "a patroni database needs its members",
                      f"add `members: [{example}]`")
    return Database(kind, scope=scope, members=tuple(members))


def _known(kinds: Mapping[str, list[str]]) -> list[str]:
    return [name for names in kinds.values() for name in names]


def _links(root: Fields, endpoints: Mapping[str, list[str]]) -> tuple[Link, ...]:
    links: list[Link] = []
    known = _known(endpoints)
    plural = {"dependency": "dependencies"}
    described = "; ".join(f"{plural.get(kind, kind + 's')}: {', '.join(names) or '(none)'}"
                          for kind, names in endpoints.items())
    example = "{name: gateway-orders, from: gateway, to: orders}"
    for path, value in root.items("links", f"[{example}]"):
        f = Fields.of(root.source, path, value, example)
        f.only(("name", "from", "to", "proxy"))
        name = _name(f, "name", "gateway-orders")
        if name in (x.name for x in links):
            raise f.error("name", f"link {name!r} is listed twice", "give each link once")
        ends = []
        for key in ("from", "to"):
            end = f.string(key, "orders")
            if end not in known:
                raise f.error(key, f"{end!r} is not a service, database member or dependency",
                              f"{did_you_mean(end, known)}use one of the {described}")
            ends.append(end)
        if ends[0] == ends[1]:
            raise f.error("to", f"the link goes from {ends[0]!r} to itself",
                          "a link joins two different endpoints")
        proxy = _name(f, "proxy", "gateway_orders") if "proxy" in f else None
        links.append(Link(name, ends[0], ends[1], proxy))
    return tuple(links)


def _dependencies(root: Fields, endpoints: Mapping[str, list[str]],
                  link_names: list[str]) -> tuple[Dependency, ...]:
    if "dependencies" not in root:
        return ()
    dependencies = []
    for name, f in root.sections("dependencies", "{links: [orders-pg0, orders-pg1]}"):
        _name(root, f"dependencies.{name}", "postgres", name)
        for kind in ("service", "database member"):
            if name in endpoints[kind]:
                raise f.error(None, f"{name!r} is already a {kind}",
                              "give the dependency another name")
        f.only(("links",))
        links = f.strings("links", "[orders-pg0, orders-pg1]")
        for i, link in enumerate(links):
            if link not in link_names:
                raise f.error(f"links[{i}]", f"there is no link named {link!r}",
                              f"{did_you_mean(link, link_names)}name a link from `links` "
                              f"({', '.join(link_names) or 'none defined'})")
        if not links:
            raise f.error("links", "no links are listed",
                          "list the links that reach this dependency")
        dependencies.append(Dependency(name, tuple(links)))
    return tuple(dependencies)


def _safety(root: Fields, namespace: str) -> Safety:
    if "safety" not in root:
        return Safety(namespaces=(namespace,), limits=SafetyLimits(source=root.source))
    f = root.section("safety", "{namespaces: [shop], max_pods_per_fault: 1}")
    f.only(("namespaces", "max_pods_per_fault", "max_percent_per_fault", "min_ready_replicas",
            "dry_run", "stop_when", "min_error_budget", *LIMIT_UNITS))
    namespaces = f.strings("namespaces", "[shop]") if "namespaces" in f else [namespace]
    for i, ns in enumerate(namespaces):
        if not _NAMESPACE_GLOB.match(ns):
            raise f.error(f"namespaces[{i}]", f"{ns!r} is not a namespace or namespace glob",
                          "use a namespace name (shop) or a glob (team-*)")
    if not namespaces:
        raise f.error("namespaces", "the allowlist is empty, so no fault could run",
                      "list the namespaces faults may touch, or set dry_run: true")
    percent = f.number("max_percent_per_fault", "50") if "max_percent_per_fault" in f else 50.0
    if not 0 < percent <= 100:
        raise f.error("max_percent_per_fault", f"{percent:g} is outside 0-100",
                      "use a percentage above 0 and at most 100")
    return Safety(
        namespaces=tuple(namespaces),
        max_pods_per_fault=f.integer("max_pods_per_fault", "1", 1, 100000)
        if "max_pods_per_fault" in f else 1,
        max_percent_per_fault=percent,
        min_ready_replicas=f.integer("min_ready_replicas", "1", 0, 100000)
        if "min_ready_replicas" in f else 1,
        dry_run=f.boolean("dry_run", False),
        limits=_limits(f),
        min_error_budget=_budget_share(f) if "min_error_budget" in f else None,
        stop_when=tuple(parse_stop_condition(text, f.source, f"safety.stop_when[{i}]")
                        for i, text in enumerate(f.strings("stop_when", "[alert:ShopErrorsHigh]")
                                                 if "stop_when" in f else [])),
    )


def _budget_share(f: Fields) -> float:
    """``safety.min_error_budget``: ``25%`` or ``0.25``, a share of the budget in [0, 1)."""
    raw = f.data["min_error_budget"]
    text = str(raw).strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise f.error("min_error_budget", f"{raw!r} is not a share of the error budget",
                      "write e.g. `min_error_budget: 25%`") from None
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise f.error("min_error_budget", f"{raw!r} is not between 0 % and 100 %",
                      "write e.g. `min_error_budget: 25%`")
    return value


def _limits(f: Fields) -> SafetyLimits:
    """The parameter limits the safety block sets; each above 0 and within its ceiling."""
    values: dict[str, Any] = {}
    for key, unit in LIMIT_UNITS.items():
        if key not in f:
            continue
        ceiling = getattr(LIMIT_CEILINGS, key)
        example = DEFAULT_LIMITS.display(key)
        if unit == "s":
            value: float = f.duration(key, example)
        elif isinstance(ceiling, int):
            value = f.get(key, lambda v: v if isinstance(v, int) and not isinstance(v, bool)
                          else None, "a whole number", example)
        else:
            value = f.number(key, example)
        shown = format_limit(key, value) if math.isfinite(value) else f"{value}"
        most = LIMIT_CEILINGS.display(key)
        fix = (f"use a duration above 0 and at most {most}" if unit == "s" else
               f"use a whole number from 1 to {most} ({unit})" if isinstance(ceiling, int) else
               f"use a number above 0 and at most {most} ({unit})")
        fix += f", or leave it out for the default, {example}"
        if not math.isfinite(value) or value <= 0:
            raise f.error(key, f"{shown} is not a positive limit", fix)
        if value > ceiling:
            raise f.error(key, f"{shown} is above chaosgate's ceiling of {most}, the most it "
                          "handles safely", fix)
        values[key] = value
    return replace(SafetyLimits(source=f.source, explicit=frozenset(values)), **values)
