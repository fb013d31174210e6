"""The processes platform's target schema: a system of your own under your own supervisord.

Each bad field is refused with a TargetError naming the field and the fix; secrets
(supervisord's password, the recovery point's connection string) are references,
resolved when called, never kept in the model's repr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_targets import DELETE, edited, error_of

from chaosgate.faults.ledger import default_ledger_path, target_key
from chaosgate.targets import parse_target


def doc() -> dict[str, Any]:
    """A hand-written target for a small system that is not the shop."""
    return {
        "apiVersion": "chaosgate/v1", "kind": "Target", "name": "echo",
        "platform": {
            "type": "processes",
            "supervisor": {"url": "http://127.0.0.1:9001/RPC2", "username": "admin",
                           "password_env": "ECHO_SUPERVISOR_PASSWORD"},
            "programs": {
                "echo-a": {"labels": {"role": "echo"}, "health": "http://127.0.0.1:9010/up"},
                "echo-b": {"labels": {"role": "echo"}},
                "store": {"labels": {"role": "store"}},
            },
        },
        "prometheus": {"url": "http://127.0.0.1:9090", "scrape_interval": "1s"},
        "ingress": {"url": "http://127.0.0.1:9000"},
        "namespace": "echo",
        "services": {"echo": {"selector": "role=echo", "replicas": 2},
                     "store": {"selector": "role=store"}},
        "faultproxy": {"url": "http://127.0.0.1:8474"},
        "links": [{"name": "echo-store", "from": "echo", "to": "store", "proxy": "echo_store"},
                  {"name": "echo-pg0", "from": "echo", "to": "pg0"}],
        "database": {
            "type": "patroni", "scope": "echo-db",
            "members": [{"name": "pg0", "patroni_url": "http://127.0.0.1:8008",
                         "programs": ["pg0"], "data_dir": "/var/lib/pg0"}],
            "recovery_point": {"dsn_env": "ECHO_DSN",
                               "query": "SELECT seq, id FROM writes WHERE seq = ANY(%(seqs)s)"},
        },
        "safety": {"namespaces": ["echo"]},
    }


def test_a_target_for_your_own_system() -> None:
    target = parse_target(doc(), "echo.yaml")
    assert target.platform.type == "processes" and not target.is_sandbox
    assert target.sandbox is None
    supervisor = target.platform.supervisor
    assert supervisor is not None and supervisor.url == "http://127.0.0.1:9001/RPC2"
    assert [p.name for p in target.platform.programs] == ["echo-a", "echo-b", "store"]
    assert target.program("echo-a").health == "http://127.0.0.1:9010/up"
    assert target.program("echo-b").health is None
    assert target.link("echo-store").proxy_name == "echo_store"
    assert target.link("echo-pg0").proxy_name == "echo-pg0"  # defaults to the link's name
    assert target.database is not None
    assert target.database.members[0].programs == ("pg0",)
    assert target.database.members[0].data_dir == Path("/var/lib/pg0")
    assert hash(target) == hash(parse_target(doc(), "other.yaml"))
    assert target_key(target) == "processes:http://127.0.0.1:9001/RPC2"
    assert "chaosgate" in str(default_ledger_path(target, {"HOME": "/home/u"}))


def test_secrets_are_references_resolved_when_called() -> None:
    target = parse_target(doc(), "echo.yaml")
    supervisor = target.platform.supervisor
    assert supervisor is not None
    assert supervisor.password({"ECHO_SUPERVISOR_PASSWORD": "s3cret"}) == "s3cret"
    assert "s3cret" not in repr(target)
    err = error_of(lambda: supervisor.password({}))
    assert err.field == "platform.supervisor.password_env"
    assert "ECHO_SUPERVISOR_PASSWORD" in str(err)
    assert target.database is not None and target.database.recovery_point is not None
    point = target.database.recovery_point
    assert point.conninfo({"ECHO_DSN": "host=db password=x"}) == "host=db password=x"
    no_auth = edited(doc(), {"platform.supervisor": {"url": "unix:///run/supervisor.sock"}})
    plain = parse_target(no_auth, "t").platform.supervisor
    assert plain is not None and plain.password() is None


ERRORS: list[tuple[str, dict[str, object], str, str]] = [
    # (id, changes, field, words in the message or fix)
    ("no-supervisor", {"platform.supervisor": DELETE}, "platform.supervisor",
     "required section is missing"),
    ("supervisor-url", {"platform.supervisor.url": "ftp://x"}, "platform.supervisor.url",
     "http://"),
    ("supervisor-socket", {"platform.supervisor.url": "unix://run/s.sock"},
     "platform.supervisor.url", "absolute socket path"),
    ("supervisor-inline-password", {"platform.supervisor.password": "hunter2"},
     "platform.supervisor.password", "password"),
    ("supervisor-user-only", {"platform.supervisor.password_env": DELETE},
     "platform.supervisor.password_env", "password_file"),
    ("supervisor-password-no-user", {"platform.supervisor.username": DELETE},
     "platform.supervisor.username", "username"),
    ("no-programs", {"platform.programs": {}}, "platform.programs", "no programs are listed"),
    ("program-name", {"platform.programs": {"bad name": {"labels": {"role": "echo"}}}},
     "platform.programs.bad name", "valid name"),
    ("program-no-labels", {"platform.programs.store.labels": {}},
     "platform.programs.store.labels", "no selector can select it"),
    ("program-label-value", {"platform.programs.store.labels": {"role": "a b"}},
     "platform.programs.store.labels.role", "not a valid label value"),
    ("program-health", {"platform.programs.store.health": "nope"},
     "platform.programs.store.health", "http://"),
    ("program-unknown-key", {"platform.programs.store.port": 1},
     "platform.programs.store.port", "valid keys"),
    ("selector-selects-nothing", {"services.store.selector": "role=cache"},
     "services.store.selector", "role=echo, role=store"),
    ("kubernetes-key", {"platform.kubeconfig": "~/.kube/config"}, "platform.kubeconfig",
     "only valid for type kubernetes"),
    ("link-proxy", {"links[0].proxy": "not ok!"}, "links[0].proxy", "valid name"),
    ("member-programs", {"database.members[0].programs": ["ok", "not ok!"]},
     "database.members[0].programs[1]", "valid name"),
    ("member-data-dir-alone", {"database.members[0].programs": DELETE},
     "database.members[0].data_dir", "programs"),
    ("etcd-url", {"database.etcd_url": "etcd:2379"}, "database.etcd_url", "http://"),
    ("recovery-two-sources", {"database.recovery_point.dsn": "host=db"},
     "database.recovery_point.dsn_env", "exactly one"),
    ("recovery-password-inline",
     {"database.recovery_point.dsn_env": DELETE,
      "database.recovery_point.dsn": "host=db password=x"},
     "database.recovery_point.dsn", "dsn_env or dsn_file"),
    ("recovery-query", {"database.recovery_point.query": "SELECT 1"},
     "database.recovery_point.query", "%(seqs)s"),
    ("not-patroni", {"database": {"type": "rds", "cluster_identifier": "db",
                                  "region": "eu-west-1"}, "links": DELETE},
     "database.type", "cannot fail over rds"),
    ("sandbox-type", {"platform": {"type": "sandbox", "state_dir": "x"}}, "platform.type",
     "chaosgate sandbox up"),
    ("sandbox-key", {"sandbox": {"base_port": 27000, "color": "red"}}, "sandbox.color",
     "valid keys"),
]


@pytest.mark.parametrize(("changes", "field", "words"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_bad_fields_name_the_field_and_the_fix(changes: dict[str, object], field: str,
                                               words: str) -> None:
    err = error_of(lambda: parse_target(edited(doc(), changes), "echo.yaml"))
    assert err.field == field, str(err)
    assert words in str(err), str(err)
    assert "Fix:" in str(err) or err.fix
