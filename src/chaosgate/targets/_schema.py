"""Validation of a target document (schema ``chaosgate/v1``) into the model.

One clear error at a time: the first problem found raises
:class:`~chaosgate.exceptions.TargetError` with the dotted field path, the
problem and the fix. Sections are checked in a fixed order (header,
platform, prometheus, ingress, faultproxy, namespace, services, database,
links, dependencies, safety, history, sandbox, then consistency: services select
programs, database members' programs exist, or what Kubernetes can do), so the
same file always reports the same first error.
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
    Program,
    PrometheusAuth,
    PrometheusConfig,
    RecoveryPoint,
    Safety,
    SafetyLimits,
    SandboxBlock,
    Service,
    SupervisorConfig,
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
        "services", "faultproxy", "links", "dependencies", "database", "safety", "history",
        "sandbox")
_PLATFORM_KEYS: dict[str, tuple[str, ...]] = {
    "processes": ("supervisor", "programs"),
    "kubernetes": ("kubeconfig", "context", "in_cluster"),
}
_DATABASE_KEYS: dict[str, tuple[str, ...]] = {
    "patroni": ("scope", "members", "etcd_url", "recovery_point"),
    "cloudnativepg": ("cluster", "namespace"),
    "rds": ("cluster_identifier", "region"),
}
_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_NAMESPACE_GLOB = re.compile(r"^[-a-z0-9*?\[\]]{1,63}$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEPENDENCIES_EXAMPLE = "{postgres: {links: [api-pg0, api-pg1]}}"
_LABEL_KEY = re.compile(r"^(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*"
                        r"[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_PROGRAMS_EXAMPLE = "{api-0: {labels: {app: api}, health: http://127.0.0.1:8080/healthz}}"
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
    platform = _platform(root.section("platform", "{type: processes}"))
    prometheus = _prometheus(root.section("prometheus", "{url: http://prometheus:9090, "
                                                        "scrape_interval: 30s}"))
    ingress_url = _url_section(root, "ingress", "https://api.example.com")
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
        sandbox=_sandbox(root) if "sandbox" in root else None,
        source=source,
    )
    if platform.type == "processes":
        _check_processes(root, target)
    elif target.database is not None and any(m.programs for m in target.database.members):
        raise root.error("database.members", "members' programs are supervisord programs",
                         "remove programs (they need platform.type: processes)")
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
    if f.data.get("type") == "sandbox":
        raise f.error("type", "platform.type sandbox is the old form of a sandbox target",
                      "re-run `chaosgate sandbox up`: it writes <state_dir>/target.yaml with "
                      "platform.type processes and a sandbox: block (targets/sandbox.yaml "
                      "is the default one)")
    kind = cast(PlatformType, _choice(f, "type", tuple(_PLATFORM_KEYS)))
    _only_for(f, "type", kind, _PLATFORM_KEYS, ("type",))
    if kind == "processes":
        return PlatformConfig(kind, supervisor=_supervisor(f), programs=_programs(f))
    in_cluster = f.boolean("in_cluster", False)
    kubeconfig = f.file("kubeconfig", "~/.kube/config")
    if in_cluster and (kubeconfig is not None or "context" in f):
        raise f.error("in_cluster", "in_cluster: true cannot be combined with kubeconfig "
                      "or context", "drop in_cluster, or drop kubeconfig and context")
    context = f.string("context", "my-context") if "context" in f else None
    return PlatformConfig(kind, kubeconfig=kubeconfig, context=context, in_cluster=in_cluster)


def _supervisor(platform: Fields) -> SupervisorConfig:
    """``platform.supervisor``: supervisord's XML-RPC URL and where its password lives."""
    example = "{url: http://127.0.0.1:9001/RPC2}"
    f = platform.section("supervisor", example)
    f.only(("url", "username", "password_env", "password_file"))
    raw = f.string("url", "http://127.0.0.1:9001/RPC2")
    if raw.startswith("unix://"):
        if not raw[len("unix://"):].startswith("/"):
            raise f.error("url", f"{raw!r} does not name an absolute socket path",
                          "write it like `url: unix:///run/supervisor.sock`")
        url = raw
    else:
        url = f.url("url", "http://127.0.0.1:9001/RPC2")
    username = f.string("username", "admin") if "username" in f else None
    password_env = password_file = None
    if "password_env" in f or "password_file" in f:
        if username is None:
            raise f.error("username", "a password is named but no user name",
                          "add `username: <the supervisord [inet_http_server] username>`")
        password_env, password_file = _secret_source(f, "password")
    elif username is not None:
        raise f.error("password_env", "a user name is given but no password source",
                      "add `password_env: SUPERVISOR_PASSWORD` or `password_file: /path`")
    return SupervisorConfig(url, username, password_env, password_file, source=f.source)


def _programs(platform: Fields) -> tuple[Program, ...]:
    """``platform.programs``: supervisord program name -> labels and readiness URL."""
    programs = []
    for name, f in platform.sections("programs", "{labels: {app: api}}"):
        _name(platform, f"programs.{name}", "api-0", name)
        f.only(("labels", "health"))
        labels_f = f.section("labels", "{app: api}")
        labels: dict[str, str] = {}
        for key in labels_f.data:
            if not isinstance(key, str) or not _LABEL_KEY.match(key):
                raise labels_f.error(None, f"{key!r} is not a valid label key",
                                     "use letters, digits, '-', '_' and '.', e.g. app")
            text = labels_f.get(key, lambda v: v if isinstance(v, str) else None,
                                "a string", "api")
            if not _LABEL_VALUE.match(text) or len(text) > 63:
                raise labels_f.error(key, f"{text!r} is not a valid label value",
                                     "use letters, digits, '-', '_' and '.', at most 63 "
                                     "characters, e.g. api")
            labels[key] = text
        if not labels:
            raise f.error("labels", "the program has no labels, so no selector can select it",
                          "add labels, e.g. `labels: {app: api}`")
        health = f.url("health", "http://127.0.0.1:8080/healthz") if "health" in f else None
        programs.append(Program(name, labels, health))
    if not programs:
        raise platform.error("programs", "no programs are listed",
                             f"list the supervisord programs that are pods, e.g. "
                             f"`programs: {_PROGRAMS_EXAMPLE}`")
    return tuple(programs)


def _sandbox(root: Fields) -> SandboxBlock:
    """The ``sandbox:`` block (only targets `chaosgate sandbox up` wrote have one)."""
    f = root.section("sandbox", f"{{state_dir: {DEFAULT_STATE_DIR}, base_port: "
                                f"{DEFAULT_BASE_PORT}}}")
    f.only(("state_dir", "base_port", "system"))
    state_dir = f.string("state_dir", DEFAULT_STATE_DIR) if "state_dir" in f \
        else DEFAULT_STATE_DIR
    base_port = f.integer("base_port", str(DEFAULT_BASE_PORT), 1024, 65475) \
        if "base_port" in f else DEFAULT_BASE_PORT
    system = _choice(f, "system", SYSTEMS) if "system" in f else "shop"
    return SandboxBlock(Path(state_dir), base_port, system)


def _check_processes(root: Fields, target: Target) -> None:
    """Every service selects at least one program; the database is Patroni."""
    if target.database is not None and target.database.type != "patroni":
        raise root.error("database.type", f"the processes platform cannot fail over "
                         f"{target.database.type}",
                         "describe the Patroni members (type: patroni, members with "
                         "patroni_url), or remove the database block")
    programs = target.platform.programs
    for service in target.services:
        if not any(service.selector.matches(p.labels) for p in programs):
            labels = sorted({f"{k}={v}" for p in programs for k, v in p.labels.items()})
            raise root.error(f"services.{service.name}.selector",
                             f"{str(service.selector)!r} selects no program of "
                             "platform.programs",
                             f"select the labels the programs have ({', '.join(labels)}), "
                             "or label the programs")


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
    for name, f in root.sections("services", '{selector: "app=api", replicas: 2}'):
        _name(root, f"services.{name}", "api", name)
        f.only(("selector", "namespace", "replicas"))
        try:
            selector = Selector.parse(f.string("selector", '"app=api"'))
        except SelectorError as exc:
            raise f.error("selector", str(exc), 'write it like `selector: "app=api"` or '
                          '`selector: "app=api,tier=backend"`') from None
        services.append(Service(
            name, selector,
            _namespace(f, "namespace") if "namespace" in f else namespace,
            f.integer("replicas", "2", 1, 100000) if "replicas" in f else None,
        ))
    if not services:
        raise root.error("services", "no services are listed",
                         'add at least one, e.g. `api: {selector: "app=api"}`')
    return tuple(services)


def _database(f: Fields, namespace: str) -> Database:
    kind = cast(DatabaseType, _choice(f, "type", tuple(_DATABASE_KEYS)))
    _only_for(f, "type", kind, _DATABASE_KEYS, ("type",))
    if kind == "cloudnativepg":
        return Database(kind, cluster=_name(f, "cluster", "app-db"),
                        namespace=_namespace(f, "namespace") if "namespace" in f else namespace)
    if kind == "rds":
        return Database(kind, cluster_identifier=_name(f, "cluster_identifier", "app-db"),
                        region=f.matching("region", "eu-west-1", _REGION, "an AWS region",
                                          "use e.g. eu-west-1"))
    scope = f.string("scope", "app-db")
    members: list[DbMember] = []
    example = "{name: pg0, patroni_url: http://pg0:8008}"
    for path, value in f.items("members", f"[{example}]"):
        m = Fields.of(f.source, path, value, example)
        m.only(("name", "patroni_url", "programs", "data_dir"))
        name = _name(m, "name", "pg0")
        if name in (x.name for x in members):
            raise m.error("name", f"member {name!r} is listed twice", "give each member once")
        programs = m.strings("programs", "[pg0]") if "programs" in m else []
        for i, program in enumerate(programs):
            _name(m, f"programs[{i}]", "pg0", program)
        data_dir = m.string("data_dir", "/var/lib/postgresql/data") if "data_dir" in m else None
        if data_dir is not None and not programs:
            raise m.error("data_dir", "data_dir is read only by a node crash, which needs "
                          "the member's programs", "add `programs: [<its supervisord "
                          "program>]`, or remove data_dir")
        members.append(DbMember(name, m.url("patroni_url", "http://pg0:8008"), tuple(programs),
                                Path(data_dir) if data_dir is not None else None))
    if not members:
        raise f.error("members", "a patroni database needs its members",
                      f"add `members: [{example}]`")
    etcd_url = f.url("etcd_url", "http://127.0.0.1:2379") if "etcd_url" in f else None
    recovery = _recovery_point(f) if "recovery_point" in f else None
    return Database(kind, scope=scope, members=tuple(members), etcd_url=etcd_url,
                    recovery_point=recovery)


def _recovery_point(database: Fields) -> RecoveryPoint:
    """``database.recovery_point``: the query that reads acknowledged writes back."""
    example = ("{dsn_env: APP_DB_DSN, query: \"SELECT client_seq, id FROM writes WHERE "
               "client_seq = ANY(%(seqs)s) AND created_at >= to_timestamp(%(since)s)\"}")
    f = database.section("recovery_point", example)
    f.only(("dsn", "dsn_env", "dsn_file", "query"))
    sources = [k for k in ("dsn", "dsn_env", "dsn_file") if k in f]
    if len(sources) != 1:
        raise f.error(sources[1] if sources else "dsn_env",
                      "give exactly one of dsn, dsn_env and dsn_file" if sources else
                      "required key is missing",
                      "name the connection string once: `dsn_env: APP_DB_DSN` (or dsn_file, "
                      "or dsn without a password)")
    dsn = f.string("dsn", "host=127.0.0.1 dbname=app user=app") if "dsn" in f else None
    if dsn is not None and "password" in dsn.lower():
        raise f.error("dsn", "a password may not be written in the target file",
                      "use dsn_env or dsn_file for a connection string with a password")
    query = f.string("query", "SELECT client_seq, id FROM writes WHERE client_seq = "
                              "ANY(%(seqs)s)")
    if "%(seqs)s" not in query:
        raise f.error("query", "the query does not take %(seqs)s",
                      "select (client_seq, id) rows WHERE client_seq = ANY(%(seqs)s), "
                      "optionally AND created_at >= to_timestamp(%(since)s)")
    return RecoveryPoint(query, dsn, _env_var(f, "dsn_env") if "dsn_env" in f else None,
                         f.file("dsn_file", "/run/secrets/app-db-dsn"), source=f.source)


def _known(kinds: Mapping[str, list[str]]) -> list[str]:
    return [name for names in kinds.values() for name in names]


def _links(root: Fields, endpoints: Mapping[str, list[str]]) -> tuple[Link, ...]:
    links: list[Link] = []
    known = _known(endpoints)
    plural = {"dependency": "dependencies"}
    described = "; ".join(f"{plural.get(kind, kind + 's')}: {', '.join(names) or '(none)'}"
                          for kind, names in endpoints.items())
    example = "{name: api-db, from: api, to: db}"
    for path, value in root.items("links", f"[{example}]"):
        f = Fields.of(root.source, path, value, example)
        f.only(("name", "from", "to", "proxy"))
        name = _name(f, "name", "api-db")
        if name in (x.name for x in links):
            raise f.error("name", f"link {name!r} is listed twice", "give each link once")
        ends = []
        for key in ("from", "to"):
            end = f.string(key, "db")
            if end not in known:
                raise f.error(key, f"{end!r} is not a service, database member or dependency",
                              f"{did_you_mean(end, known)}use one of the {described}")
            ends.append(end)
        if ends[0] == ends[1]:
            raise f.error("to", f"the link goes from {ends[0]!r} to itself",
                          "a link joins two different endpoints")
        proxy = _name(f, "proxy", "api_db") if "proxy" in f else None
        links.append(Link(name, ends[0], ends[1], proxy))
    return tuple(links)


def _dependencies(root: Fields, endpoints: Mapping[str, list[str]],
                  link_names: list[str]) -> tuple[Dependency, ...]:
    if "dependencies" not in root:
        return ()
    dependencies = []
    for name, f in root.sections("dependencies", "{links: [api-pg0, api-pg1]}"):
        _name(root, f"dependencies.{name}", "postgres", name)
        for kind in ("service", "database member"):
            if name in endpoints[kind]:
                raise f.error(None, f"{name!r} is already a {kind}",
                              "give the dependency another name")
        f.only(("links",))
        links = f.strings("links", "[api-pg0, api-pg1]")
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
