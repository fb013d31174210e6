"""The Chaos Toolkit extension as Chaos Toolkit sees it: discovery, signatures, validation.

chaoslib's own discovery and activity validation are used (no stand-ins),
and ``chaos discover chaosgate --no-install`` runs as a user would run it.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from chaoslib.activity import ensure_activity_is_valid
from chaoslib.control import validate_controls

from chaosgate import discover as top_level_discover
from chaosgate.ctk import actions, describe_target, discover, probes
from chaosgate.ctk.controls import allure, ledger, load, slo
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import dump_target, render_sandbox_target

CHAOS = Path(sys.executable).with_name("chaos")
EXPECTED_ACTIONS = {"kill_pods", "partition_network", "heal_network", "add_latency",
                    "remove_latency", "failover_database", "recover_database", "stress",
                    "freeze", "end_stress", "revert_faults"}
EXPECTED_PROBES = {"slo_met", "availability", "p95_latency", "recovery_time",
                   "error_budget_burn", "pods_ready", "faults_applied", "acknowledged_writes_lost"}


def test_discover_lists_every_exported_activity_with_its_documentation() -> None:
    found = discover(discover_system=False)
    by_type = {t: {a["name"] for a in found["activities"] if a["type"] == t}
               for t in ("action", "probe")}
    assert by_type["action"] == set(actions.__all__) == EXPECTED_ACTIONS
    assert by_type["probe"] == set(probes.__all__) == EXPECTED_PROBES
    assert found["extension"]["name"] == "chaosgate"
    assert found["system"] is None
    for activity in found["activities"]:
        assert len(activity["doc"] or "") > 40, activity["name"]
        names = [a["name"] for a in activity["arguments"]]
        assert names[-2:] == ["configuration", "secrets"], activity["name"]
        assert activity["arguments"][-1]["type"] == "mapping"


@pytest.mark.parametrize("module", [actions, probes])
def test_every_activity_takes_configuration_and_secrets_defaulting_to_none(module) -> None:
    for name in module.__all__:
        params = inspect.signature(getattr(module, name)).parameters
        assert params["configuration"].default is None, name
        assert params["secrets"].default is None, name
        assert inspect.getdoc(getattr(module, name)), name


def test_the_package_discover_is_chaos_toolkits_entry_point() -> None:
    found = top_level_discover(discover_system=False)
    assert {a["name"] for a in found["activities"]} == EXPECTED_ACTIONS | EXPECTED_PROBES


def test_discover_describes_the_configured_target_without_secrets(tmp_path, monkeypatch) -> None:
    doc = render_sandbox_target(build_topology(tmp_path, 28790))
    doc["prometheus"]["auth"] = {"bearer_token_env": "PROM_TOKEN_FOR_TEST"}
    path = dump_target(doc, tmp_path / "target.yaml")
    monkeypatch.setenv("CHAOSGATE_TARGET", str(path))
    monkeypatch.setenv("PROM_TOKEN_FOR_TEST", "s3cr3t-never-shown")
    described = describe_target()
    assert described["name"] == "sandbox" and described["database"] == "patroni"
    assert "orders-pg0" in described["links"]
    assert "s3cr3t-never-shown" not in json.dumps(described)


def test_discover_reports_an_unreadable_target_instead_of_failing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CHAOSGATE_TARGET", str(tmp_path / "missing.yaml"))
    described = describe_target()
    assert "file not found" in described["error"]


def test_chaos_discover_cli_lists_the_activities(tmp_path) -> None:
    proc = subprocess.run([str(CHAOS), "--log-file", str(tmp_path / "chaos.log"), "discover",
                           "chaosgate", "--no-install", "--no-system-info"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads((tmp_path / "discovery.json").read_text())
    assert {a["name"] for a in found["activities"]} == EXPECTED_ACTIONS | EXPECTED_PROBES


def _activity(kind: str, module: str, func: str, **arguments: object) -> dict[str, object]:
    return {"type": kind, "name": func, "provider": {
        "type": "python", "module": module, "func": func, "arguments": arguments}}


@pytest.mark.parametrize("activity", [
    _activity("action", "chaosgate.ctk.actions", "kill_pods", selector="app=orders", qty=1),
    _activity("action", "chaosgate.ctk.actions", "partition_network", selector="app=orders",
              dependency="postgres"),
    _activity("action", "chaosgate.ctk.actions", "add_latency", latency_ms=100,
              links=["gateway-catalog"]),
    _activity("action", "chaosgate.ctk.actions", "failover_database", method="node-crash"),
    _activity("action", "chaosgate.ctk.actions", "freeze", selector="app=catalog"),
    _activity("probe", "chaosgate.ctk.probes", "slo_met", window=5),
    _activity("probe", "chaosgate.ctk.probes", "recovery_time", slo="time-to-recover"),
])
def test_chaoslib_validates_activities_against_the_signatures(activity) -> None:
    ensure_activity_is_valid(activity)


def test_chaoslib_refuses_an_argument_the_activity_does_not_take() -> None:
    from chaoslib.exceptions import InvalidActivity

    with pytest.raises(InvalidActivity):
        ensure_activity_is_valid(_activity("action", "chaosgate.ctk.actions", "kill_pods",
                                           selector="app=orders", grace="0"))


def test_the_controls_validate_and_expose_chaoslib_hooks() -> None:
    controls = [{"name": m.__name__, "provider": {"type": "python", "module": m.__name__}}
                for m in (ledger, load, slo, allure)]
    validate_controls({"controls": controls})
    assert callable(ledger.after_experiment_control) and callable(ledger.cleanup_control)
    assert callable(load.before_experiment_control) and callable(load.cleanup_control)
    assert callable(slo.after_experiment_control)
    for hook in ("before_hypothesis_control", "after_hypothesis_control",
                 "before_method_control", "after_method_control", "before_rollback_control",
                 "after_rollback_control", "before_activity_control", "after_activity_control"):
        assert callable(getattr(allure, hook)), hook


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "experiments.md"


def test_every_action_says_how_long_it_blocks_and_the_guide_documents_every_activity() -> None:
    found = discover(discover_system=False)
    guide = GUIDE.read_text()
    for activity in found["activities"]:
        if activity["type"] == "action":
            assert "Blocks" in (activity["doc"] or "") or "blocks" in (activity["doc"] or ""), \
                activity["name"]
        assert f"`{activity['name']}`" in guide, activity["name"]


def test_the_guide_documents_every_control_argument_and_configuration_key() -> None:
    from chaosgate.ctk.config import DEFAULTS

    guide = GUIDE.read_text()
    for key, (env, _default) in DEFAULTS.items():
        assert f"`{key}`" in guide and f"`{env}`" in guide, key
    hooks = [load.before_experiment_control, load.after_experiment_control,
             slo.after_experiment_control, ledger.after_experiment_control,
             allure.before_experiment_control]
    skip = {"context", "state", "configuration", "secrets", "_arguments", "experiment"}
    for hook in hooks:
        for name in inspect.signature(hook).parameters:
            if name not in skip:
                assert f"`{name}`" in guide, (hook.__module__, name)
