"""The controls' own parts, without a sandbox: settings, secrets, steps, verdicts, redaction.

The hooks are called as chaoslib calls them (its ``apply_python_control``
and ``run_python_activity``), with a target file on an unused base port and
no load: whatever needs the system must say so, never pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chaoslib.control.python import apply_python_control, initialize_control
from chaoslib.exceptions import ActivityFailed
from chaoslib.provider.python import run_python_activity

from chaosgate.ctk import state
from chaosgate.ctk.config import prometheus_client, prometheus_credentials, settings_from
from chaosgate.ctk.controls import allure, slo
from chaosgate.ctk.controls.load import observation_end
from chaosgate.exceptions import UsageError
from chaosgate.faults import signals
from chaosgate.paths import default_folder

SECRET = "tok-3f9a-never-in-a-file"
# the ``run`` fixture (a fresh run state, a target nobody serves) is in conftest.py


def test_settings_come_from_configuration_then_environment_then_defaults() -> None:
    env = {"CHAOSGATE_TARGET": "env.yaml", "CHAOSGATE_SEED": "7"}
    s = settings_from({"chaosgate_target": "conf.yaml"}, env)
    assert (s.target, s.seed) == (Path("conf.yaml"), 7)
    assert settings_from({}, env).target == Path("env.yaml")
    d = settings_from(None, {})
    assert (d.target, d.ledger) == (Path("targets/sandbox.yaml"), None)  # the target's own
    assert d.catalog == default_folder("probes", d.target) and d.catalog.is_absolute()
    with pytest.raises(UsageError, match=r"chaosgate_seed.*--var chaosgate_seed=N"):
        settings_from({"chaosgate_seed": "x"}, {})


def test_an_undeclared_var_comes_after_the_configuration_and_before_the_environment() -> None:
    env = {"CHAOSGATE_CATALOG": "env-probes", "CHAOSGATE_LEDGER": "env.jsonl"}
    given = {"chaosgate_catalog": "var-probes", "chaosgate_ledger": "var.jsonl"}
    s = settings_from({"chaosgate_catalog": "conf-probes"}, env, given)
    assert (s.catalog, s.ledger) == (Path("conf-probes"), Path("var.jsonl"))
    assert settings_from({}, env, {}).ledger == Path("env.jsonl")


def test_chaos_run_reads_an_undeclared_var_and_its_fix_names_the_var(tmp_path: Path) -> None:
    """`--var chaosgate_catalog=...` with no such key in the experiment: the probe reads that
    catalogue, and its fix names the option `chaos run` has (not --catalog)."""
    experiment = tmp_path / "exp.json"
    experiment.write_text(json.dumps({
        "version": "1.0.0", "title": "undeclared var", "description": "d",
        "method": [{"type": "probe", "name": "slos", "provider": {
            "type": "python", "module": "chaosgate.ctk.probes", "func": "slo_met"}}]}))
    missing = tmp_path / "no-such-catalogue"
    log = tmp_path / "chaostoolkit.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGATE_")}
    subprocess.run([str(Path(sys.executable).with_name("chaos")), "--log-file", str(log), "run",
                    "--journal-path", str(tmp_path / "journal.json"), "--var",
                    f"chaosgate_catalog={missing}", str(experiment)],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    text = log.read_text()
    assert f"{missing}: no such file or folder" in text, text[-3000:]
    assert "--var chaosgate_catalog=PATH" in text and "point --catalog" not in text


@pytest.mark.parametrize("secrets,header", [
    ({"prometheus": {"bearer_token": SECRET}}, "Bearer "),
    ({"bearer_token": SECRET}, "Bearer "),  # an activity's flat secrets
    ({"prometheus": {"username": "u", "password": SECRET}}, "Basic "),
])
def test_prometheus_credentials_from_secrets(secrets: dict[str, Any], header: str) -> None:
    creds = prometheus_credentials(secrets)
    assert creds is not None
    assert creds.headers()["Authorization"].startswith(header)
    assert SECRET not in repr(creds) and SECRET not in str(creds)


def test_no_secrets_keep_the_target_files_credentials(run: dict[str, Any]) -> None:
    assert prometheus_credentials(None) is None
    assert prometheus_credentials({"other": {"token": "x"}}) is None
    target = state.current().target(run)
    assert prometheus_client(target, None).url == target.prometheus.url


def test_a_probe_without_load_fails_instead_of_passing(run: dict[str, Any]) -> None:
    probe = {"name": "slo", "provider": {"type": "python", "module": "chaosgate.ctk.probes",
                                         "func": "slo_met", "arguments": {"window": 1,
                                                                          "observer": "client"}}}
    with pytest.raises(ActivityFailed, match="no request log"):
        run_python_activity(probe, run, {})


def test_faults_applied_reads_this_runs_ledger(run: dict[str, Any]) -> None:
    probe = {"name": "left", "provider": {"type": "python", "module": "chaosgate.ctk.probes",
                                          "func": "faults_applied"}}
    assert run_python_activity(probe, run, {}) == 0


def test_recovery_time_before_any_fault_is_zero(run: dict[str, Any]) -> None:
    probe = {"name": "ttr", "provider": {"type": "python", "module": "chaosgate.ctk.probes",
                                         "func": "recovery_time"}}
    assert run_python_activity(probe, run, {}) == 0.0


def _control(module: str, **arguments: Any) -> dict[str, Any]:
    return {"name": module, "provider": {"type": "python", "module": module,
                                         "arguments": arguments}}


def test_slo_control_without_data_fails_the_run_and_never_writes_a_secret(
        run: dict[str, Any]) -> None:
    experiment = {"title": "t", "secrets": {"prometheus": {"bearer_token": SECRET}}}
    journal: dict[str, Any] = {"status": "completed", "deviated": False, "run": [],
                               "rollbacks": [], "experiment": dict(experiment),
                               "steady_states": {"before": None, "after": None}}
    apply_python_control("experiment-after", _control("chaosgate.ctk.controls.slo"),
                         experiment, experiment, state=journal, configuration=run,
                         secrets={"prometheus": {"bearer_token": SECRET}})
    section = journal["chaosgate"]
    assert section["verdict"] == "inconclusive" and section["exit_code"] == 3
    assert journal["status"] == "failed"  # chaos run exits 1
    assert "the load generator recorded no request" in json.dumps(section["gates"])
    assert SECRET not in json.dumps(journal)
    assert experiment["secrets"]["prometheus"]["bearer_token"] == SECRET  # the run's own copy


def test_ledger_control_with_nothing_applied_reports_a_clean_ledger(
        run: dict[str, Any]) -> None:
    journal: dict[str, Any] = {}
    apply_python_control("experiment-after", _control("chaosgate.ctk.controls.ledger"),
                         {}, {}, state=journal, configuration=run)
    assert journal["chaosgate"]["ledger"]["clean"] is True
    assert journal["chaosgate"]["ledger"]["open"] == []


class _Terminated(Exception):
    """What the wrapped handler (Chaos Toolkit's, in a real run) raised."""


def _chaos_toolkit_handler(signum: int, _frame: Any) -> None:
    raise _Terminated(signum)


def test_chaos_toolkits_sigterm_is_not_swallowed_by_a_probe_loop(run: dict[str, Any]) -> None:
    """Chaos Toolkit's SIGTERM handler raises InterruptExecution, an Exception: a fault's
    verification loop (``except Exception``: "not yet") swallowed it and the run went on
    with the fault applied. Through the run's wrapper it is a KeyboardInterrupt."""
    from chaoslib.exit import _terminate_now

    previous = signal.signal(signal.SIGTERM, _terminate_now)
    try:
        initialize_control(_control("chaosgate.ctk.controls.slo"), {}, run, {})
        swallowed = False
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
            except Exception:
                swallowed = True
        assert not swallowed and state.current().interrupted_by == signal.SIGTERM
    finally:
        state.current().unwatch_signals()
        state.current().stop_receiver()
        signal.signal(signal.SIGTERM, previous)


def test_the_run_notes_the_first_signal_and_chaos_toolkits_handler_still_acts(
        run: dict[str, Any]) -> None:
    previous = signal.signal(signal.SIGTERM, _chaos_toolkit_handler)
    try:
        initialize_control(_control("chaosgate.ctk.controls.slo"), {}, run, {})
        with pytest.raises(_Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
        assert state.current().interrupted_by == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):  # Python's own SIGINT handler, wrapped
            os.kill(os.getpid(), signal.SIGINT)
        assert state.current().interrupted_by == signal.SIGTERM  # the first one counts
        state.current().unwatch_signals()
        assert signal.getsignal(signal.SIGTERM) is _chaos_toolkit_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_slo_control_judges_no_gate_of_an_interrupted_run(run: dict[str, Any]) -> None:
    journal: dict[str, Any] = {"status": "interrupted", "deviated": False, "run": [],
                               "rollbacks": [], "experiment": {"title": "t"},
                               "steady_states": {"before": {"steady_state_met": True},
                                                 "after": {"steady_state_met": False}}}
    state.current().interrupted_by = signal.SIGTERM
    apply_python_control("experiment-after", _control("chaosgate.ctk.controls.slo"),
                         {}, {}, state=journal, configuration=run)
    section = journal["chaosgate"]
    assert section["verdict"] == "inconclusive" and section["exit_code"] == 143
    assert section["reasons"][0].startswith("interrupted by SIGTERM")
    assert [g["status"] for g in section["gates"]] == ["inconclusive"]
    assert "no SLO gate was judged" in section["gates"][0]["detail"]
    assert journal["status"] == "interrupted" and journal["deviated"] is False


def test_reverts_are_shielded_from_sigint_and_sigterm() -> None:
    with signals.shielded():
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _probe_run(name: str, status: str, output: Any, met: bool | None) -> dict[str, Any]:
    return {"activity": {"name": name, "type": "probe", "tolerance": True,
                         "provider": {"module": "chaosgate.ctk.probes", "func": name}},
            "status": status, "output": output, "tolerance_met": met,
            "exception": ["Inconclusive: no data\n"] if status == "failed" else None}


def test_allure_control_records_phases_and_writes_a_redacted_result(
        run: dict[str, Any], tmp_path: Path) -> None:
    experiment = {"title": "demo", "secrets": {"prometheus": {"bearer_token": SECRET}}}
    allure.before_experiment_control(experiment, configuration=run)
    hypothesis = {"title": "steady"}
    allure.before_hypothesis_control(hypothesis)
    probes = [_probe_run("slo_met", "succeeded", True, True),
              _probe_run("p95_latency", "succeeded", 900.0, False)]
    for p in probes:
        allure.before_activity_control(p["activity"])
        allure.after_activity_control(p["activity"], state=p)
    allure.after_hypothesis_control(hypothesis, state={"steady_state_met": False,
                                                       "probes": probes})
    allure.before_method_control(experiment)
    action = {"name": "cut", "type": "action",
              "provider": {"module": "chaosgate.ctk.actions", "func": "partition_network",
                           "arguments": {"authorization": SECRET}}}
    allure.before_activity_control(action)
    allure.after_activity_control(action, state={"status": "succeeded",
                                                 "output": {"token": SECRET}})
    journal = {"experiment": experiment, "start": "2026-01-01T00:00:00+00:00",
               "end": "2026-01-01T00:01:00+00:00", "status": "interrupted",
               "chaosgate": {"verdict": "inconclusive", "gates_verdict": "inconclusive",
                             "reasons": ["the run was interrupted"], "gates": [
                                 {"name": "load", "status": "inconclusive", "value": "0",
                                  "objective": "> 0", "detail": "none", "query": ""}]}}
    allure.after_experiment_control(experiment, state=journal, configuration=run)
    out = Path(run["chaosgate_reports"]) / "allure-results"
    result = json.loads(next(out.glob("*-result.json")).read_text())
    assert result["status"] == "broken" and result["name"] == "demo"
    steps = {s["name"]: s for s in result["steps"]}
    hyp = steps["steady-state hypothesis before the method: steady"]
    assert hyp["status"] == "failed"
    assert [s["status"] for s in hyp["steps"]] == ["passed", "failed"]
    assert steps["method"]["status"] == "broken"  # interrupted: left open, closed as broken
    assert "SLO gates: INCONCLUSIVE" in steps
    for file in out.iterdir():
        assert SECRET not in file.read_text(errors="replace"), file.name
    assert journal["chaosgate"]["allure"]["status"] == "broken"


@pytest.mark.parametrize("window", [0.0, -5.0, float("inf"), float("nan"), 1e15])
def test_a_probe_window_out_of_bounds_is_usage_before_any_query(window: float) -> None:
    from chaosgate.ctk.observe import verdicts

    with pytest.raises(UsageError, match=r"window: .*Fix: give a window from 1ms to 400d"):
        verdicts([], window, "server", None, None)


def test_the_load_is_kept_observe_after_seconds_past_the_last_revert() -> None:
    assert observation_end([100.0, None, 130.0], now=140.0, observe_after=20) == 150.0
    assert observation_end([], now=140.0, observe_after=20) == 160.0  # no fault reverted
    assert observation_end([None], now=140.0, observe_after=-5) == 140.0


def _fault_action(func: str, status: str) -> dict[str, Any]:
    return {"activity": {"name": func, "type": "action",
                         "provider": {"type": "python", "module": "chaosgate.ctk.actions",
                                      "func": func}},
            "status": status}


def test_a_failed_fault_action_means_no_fault_applied_and_a_run_without_one_is_a_baseline(
        run: dict[str, Any]) -> None:
    assert slo.fault_applied({"run": []}) is None
    assert slo.fault_applied({"run": [_fault_action("remove_latency", "failed")]}) is None
    assert slo.fault_applied({"run": [_fault_action("add_latency", "succeeded")]}) is None
    assert slo.fault_applied({"run": [_fault_action("add_latency", "failed")]}) is False


def test_a_fault_action_that_fails_is_a_failed_activity_and_no_fault_applied(
        run: dict[str, Any]) -> None:
    action = {"name": "slow", "provider": {"type": "python", "module": "chaosgate.ctk.actions",
                                           "func": "add_latency",
                                           "arguments": {"latency_ms": 100,
                                                         "links": ["no-such-link"]}}}
    with pytest.raises(ActivityFailed, match="no-such-link"):
        run_python_activity(action, run, {})
    journal = {"run": [_fault_action("add_latency", "failed")]}
    assert state.current().faults == [] and slo.fault_applied(journal) is False


def test_load_control_without_load_reports_it_at_once(run: dict[str, Any]) -> None:
    journal: dict[str, Any] = {"status": "completed"}
    apply_python_control("experiment-after",
                         _control("chaosgate.ctk.controls.load", observe_after=600),
                         {}, {}, state=journal, configuration=run)
    assert journal["chaosgate"]["load"] == {"error": "no load ran"}
