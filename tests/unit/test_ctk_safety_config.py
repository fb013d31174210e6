"""The safety and detection keys of ``chaos run``: force, stop conditions, expected alert.

Read like every other configuration key (the experiment's configuration, then
``--var``, then the environment, then the default); bad values are exit 2
naming the key and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.ctk import state
from chaosgate.ctk.config import (
    DEFAULT_DETECT_WITHIN,
    parse_flag,
    parse_stop_when,
    settings_from,
)
from chaosgate.exceptions import ChaosgateError, Inconclusive, UsageError
from chaosgate.targets import StopCondition

PROMQL = 'sum(rate(haproxy_frontend_http_responses_total{code="5xx"}[10s])) > 0'


def test_nothing_given_keeps_the_targets_conditions_no_force_no_expected_alert() -> None:
    s = settings_from({}, {}, {})
    assert (s.force, s.stop_when, s.expect_alert) == (False, None, None)
    assert s.detect_within == DEFAULT_DETECT_WITHIN


@pytest.mark.parametrize(("given", "expected"), [
    ("true", True), ("True", True), ("yes", True), ("1", True), ("on", True), (True, True),
    ("false", False), ("no", False), ("0", False), ("off", False), (False, False),
    (None, False)])
def test_force_is_a_yes_or_no(given: object, expected: bool) -> None:
    assert parse_flag("chaosgate_force", given) is expected


def test_force_comes_from_the_configuration_then_var_then_environment() -> None:
    assert settings_from({}, {"CHAOSGATE_FORCE": "true"}, {}).force is True
    assert settings_from({}, {"CHAOSGATE_FORCE": "true"}, {"chaosgate_force": "false"}).force \
        is False
    assert settings_from({"chaosgate_force": True}, {"CHAOSGATE_FORCE": "false"}, {}).force


def test_a_force_that_is_no_yes_or_no_is_a_usage_error_naming_the_key() -> None:
    with pytest.raises(UsageError, match=r"chaosgate_force: 'maybe'.*Fix: write true or false"):
        settings_from({"chaosgate_force": "maybe"}, {}, {})


def test_stop_when_as_a_yaml_list_replaces_the_targets_list() -> None:
    s = settings_from({"chaosgate_stop_when": ["alert:ShopErrorsHigh",
                                               "burn:availability>5%", PROMQL]}, {}, {})
    assert s.stop_when == (StopCondition("alert", "ShopErrorsHigh"),
                           StopCondition("burn", "availability", 0.05),
                           StopCondition("promql", PROMQL))
    assert all(c.source == "configuration key chaosgate_stop_when" for c in s.stop_when)


def test_stop_when_from_var_or_environment_one_a_line_or_a_json_list() -> None:
    lines = f"alert:ShopErrorsHigh\n\n  {PROMQL}\n"
    assert parse_stop_when(lines) == (StopCondition("alert", "ShopErrorsHigh"),
                                      StopCondition("promql", PROMQL))
    as_json = '["alert:ShopErrorsHigh", "promql:up == 0"]'
    assert settings_from({}, {}, {"chaosgate_stop_when": as_json}).stop_when == (
        StopCondition("alert", "ShopErrorsHigh"), StopCondition("promql", "up == 0"))
    assert settings_from({}, {"CHAOSGATE_STOP_WHEN": "alert:X"}, {}).stop_when == (
        StopCondition("alert", "X"),)


def test_an_empty_stop_when_leaves_the_targets_list() -> None:
    assert settings_from({"chaosgate_stop_when": []}, {}, {}).stop_when is None
    assert parse_stop_when("") is None and parse_stop_when(None) is None


@pytest.mark.parametrize(("given", "message"), [
    ("[not json", r"chaosgate_stop_when: .* is not a JSON list"),
    ({"alert": "X"}, r"chaosgate_stop_when: .* is not a list of stop conditions"),
    (["alert:not a name"], r"chaosgate_stop_when.*item 1.*not a Prometheus alert name"),
    (["burn:availability>150%"], r"chaosgate_stop_when.*item 1.*at most 100 %"),
])
def test_a_bad_stop_condition_is_exit_2_naming_the_key(given: object, message: str) -> None:
    with pytest.raises(ChaosgateError, match=message) as caught:
        parse_stop_when(given)
    assert caught.value.exit_code == 2


def test_the_expected_alert_and_its_bound() -> None:
    s = settings_from({"chaosgate_expect_alert": "ShopAvailabilityBurn",
                       "chaosgate_detect_within": 30}, {}, {})
    assert (s.expect_alert, s.detect_within) == ("ShopAvailabilityBurn", 30.0)
    env = {"CHAOSGATE_EXPECT_ALERT": "ShopErrorsHigh", "CHAOSGATE_DETECT_WITHIN": "45.5"}
    assert (settings_from({}, env, {}).expect_alert, settings_from({}, env, {}).detect_within) \
        == ("ShopErrorsHigh", 45.5)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("chaosgate_expect_alert", "no such-alert", r"not a Prometheus alert name"),
    ("chaosgate_detect_within", "soon", r"'soon' is not a positive number of seconds"),
    ("chaosgate_detect_within", "-5", r"not a positive number"),
    ("chaosgate_detect_within", "inf", r"not a positive number"),
])
def test_bad_detection_keys_are_usage_errors(key: str, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=f"{key}: .*{message}"):
        settings_from({key: value}, {}, {})


def _with_stop_when(configuration: dict[str, Any], conditions: list[str]) -> dict[str, Any]:
    """The run fixture's configuration, its target file given ``safety.stop_when``."""
    path = Path(configuration["chaosgate_target"])
    doc = yaml.safe_load(path.read_text())
    doc.setdefault("safety", {})["stop_when"] = conditions
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return configuration


def test_the_runs_stop_conditions_replace_the_targets(run: dict[str, Any]) -> None:
    configuration = _with_stop_when(run, ["alert:FromTheTarget"])
    assert state.current().stop_watch(configuration).conditions == (  # type: ignore[union-attr]
        StopCondition("alert", "FromTheTarget"),)
    state.reset()
    mine = {**configuration, "chaosgate_stop_when": ["alert:FromTheExperiment"]}
    assert state.current().stop_watch(mine).conditions == (  # type: ignore[union-attr]
        StopCondition("alert", "FromTheExperiment"),)


def test_no_stop_condition_no_watch(run: dict[str, Any]) -> None:
    assert state.current().stop_watch(run) is None
    state.current().watch_faults()  # no session, no conditions: nothing to watch
    assert state.current().stop_watch_if_built() is None


def test_an_unreachable_prometheus_at_admission_refuses_nothing_it_cannot_read(
        run: dict[str, Any]) -> None:
    """min_error_budget set and Prometheus down (nobody serves the target): the admission
    cannot say the budget is short, it raises Inconclusive, and the run is refused before
    anything is applied; the fault session is then never built."""
    path = Path(run["chaosgate_target"])
    doc = yaml.safe_load(path.read_text())
    doc.setdefault("safety", {})["min_error_budget"] = "25%"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    current = state.current()
    why = current.admit(run)
    assert why and why == current.refused
    with pytest.raises(Inconclusive):
        current.session(run)
    assert current.fault_session is None


def test_no_fault_is_applied_once_the_run_is_aborted(run: dict[str, Any]) -> None:
    from chaosgate.ctk.applying import apply_fault
    from chaosgate.exceptions import FaultAborted

    state.current().aborted = "stop condition tripped: alert X firing (...)"
    with pytest.raises(FaultAborted, match="no new fault after the run was aborted"):
        apply_fault({"kind": "partition", "links": ["gateway-catalog"]}, configuration=run)
    assert state.current().fault_session is None
