"""What a Kubernetes target cannot do is refused when the file is read (exit 2, field named).

``chaosgate validate`` and every front end read target files through
``load_target``; a fault spec the platform cannot do is refused by
``check_spec`` before the platform is built (no kubeconfig is read here:
the ones named do not exist, so reaching the cluster would fail otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.exceptions import EXIT_USAGE, UsageError
from chaosgate.faults import FaultKind, check_spec
from chaosgate.targets import load_target, parse_target

EXAMPLE = Path(__file__).resolve().parents[2] / "targets" / "kubernetes.example.yaml"
PATRONI = {"type": "patroni", "scope": "db",
           "members": [{"name": "db-0", "patroni_url": "http://db-0.db.shop.svc:8008"}]}


def doc(**changes: Any) -> dict[str, Any]:
    """A Kubernetes target (api -> db, db a service) with top-level ``changes``."""
    base: dict[str, Any] = {
        "apiVersion": "chaosgate/v1", "kind": "Target", "name": "k",
        "platform": {"type": "kubernetes", "kubeconfig": "/nonexistent/kubeconfig"},
        "prometheus": {"url": "http://prometheus:9090", "scrape_interval": "15s"},
        "ingress": {"url": "http://api.example.com"},
        "namespace": "apps",
        "services": {"api": {"selector": "app=api"}, "db": {"selector": "app=db"}},
        "links": [{"name": "api-db", "from": "api", "to": "db"}],
        "dependencies": {"postgres": {"links": ["api-db"]}},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def validate(tmp_path: Path, document: dict[str, Any]) -> tuple[int, str]:
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


FAULTPROXY = {"url": "http://toxiproxy.apps.svc:8474"}
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("patroni", {"database": PATRONI, "links": None, "dependencies": None}, "database.type",
     "type: cloudnativepg"),
    ("proxy-without-faultproxy",
     {"links": [{"name": "api-db", "from": "api", "to": "db", "proxy": "api_db"}]},
     "links[0].proxy", "faultproxy: {url:"),
    ("end-not-a-service",
     {"links": [{"name": "api-db", "from": "api", "to": "postgres"}]},
     "links[0].to", "add a service 'postgres'"),
    ("cnpg-namespace", {"database": {"type": "cloudnativepg", "cluster": "pg",
                                     "namespace": "databases"}},
     "safety.namespaces", "add databases to safety.namespaces"),
    ("proxy-name", {"faultproxy": FAULTPROXY,
                    "links": [{"name": "api-db", "from": "api", "to": "db", "proxy": "a b"}]},
     "links[0].proxy", "not a valid name"),
]


@pytest.mark.parametrize(("changes", "field", "fix"), [r[1:] for r in REFUSED],
                         ids=[r[0] for r in REFUSED])
def test_validate_refuses_what_kubernetes_cannot_do(tmp_path: Path, changes: dict[str, Any],
                                                    field: str, fix: str) -> None:
    code, output = validate(tmp_path, doc(**changes))
    assert code == EXIT_USAGE, output
    flat = " ".join(output.split())
    assert f"{field}:" in flat and "Fix:" in flat and fix in flat, flat
    assert "Traceback" not in output


def test_a_fault_proxy_may_front_links_that_have_no_pods(tmp_path: Path) -> None:
    """With ``faultproxy``, a link may end at something that is no service (the proxy
    carries it); ``proxy:`` names the Toxiproxy proxy, the link's name by default."""
    links = [{"name": "api-db", "from": "api", "to": "db"},
             {"name": "api-cache", "from": "api", "to": "cache", "proxy": "cache_main"}]
    document = doc(faultproxy=FAULTPROXY, links=links,
                   dependencies={"cache": {"links": ["api-cache"]}})
    code, output = validate(tmp_path, document)
    assert code == 0, output
    target = parse_target(document, "t")
    assert [(x.proxy_name, x.declares_proxy) for x in target.links] == [
        ("api-db", False), ("cache_main", True)]
    same = doc(links=[{"name": "api-db", "from": "api", "to": "db", "proxy": "api-db"}])
    assert not parse_target(same, "t").links[0].declares_proxy  # the default, spelled out


def test_the_example_with_its_fault_proxy_and_patroni(tmp_path: Path) -> None:
    """The example's commented fault proxy and fronted link are valid once uncommented;
    Patroni instead of CloudNativePG is refused at load, naming database.type."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for commented, line in (("# faultproxy:  ", "faultproxy:  "),
                            ("#   url: http://toxiproxy", "  url: http://toxiproxy"),
                            ("# - {name: orders-cache", "- {name: orders-cache"),
                            ("  # cache:  ", "  cache:  "),
                            ("  #   links: [orders-cache]", "    links: [orders-cache]")):
        assert text.count(commented) == 1, commented
        text = text.replace(commented, line)
    example = yaml.safe_load(text)
    fronted = parse_target(example, "e")
    assert fronted.faultproxy_url == "http://toxiproxy.shop.svc:8474"
    assert fronted.link("orders-cache").proxy_name == "orders_cache"
    del example["faultproxy"]
    with pytest.raises(UsageError, match=r"links\[3\]\.proxy: .* declares no fault proxy"):
        parse_target(example, "e")
    example["database"] = PATRONI
    with pytest.raises(UsageError, match=r"e: database.type: Patroni failover is not supported"):
        parse_target(example, "e")
    assert load_target(EXAMPLE).database is not None


def test_freeze_is_refused_on_kubernetes_before_the_platform(tmp_path: Path) -> None:
    spec = {"kind": FaultKind.STRESS, "selector": "app=api", "mode": "freeze", "duration": 5}
    assert check_spec(spec, "s", platform="sandbox") is FaultKind.STRESS
    assert check_spec(spec, "s") is FaultKind.STRESS
    with pytest.raises(UsageError, match=r"s: fault.mode: 'freeze' is not available on "
                                         r"Kubernetes.*Fix: pass the fault spec's mode as cpu"):
        check_spec(spec, "s", platform="kubernetes", front_end="pytest")
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(doc()), encoding="utf-8")
    result = CliRunner().invoke(app, ["fault", "stress", "--target", str(path), "--selector",
                                      "app=api", "--mode", "freeze", "--duration", "5",
                                      "--ledger", str(tmp_path / "ledger.jsonl")])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "fault.mode: 'freeze' is not available on Kubernetes" in " ".join(
        result.output.split())
    assert "--mode as cpu or memory" in " ".join(result.output.split())
    assert not (tmp_path / "ledger.jsonl").exists()
