"""A fault or load parameter's fix names the knob of the front end that prints it.

The same bad value is worded ``--latency`` for ``chaosgate fault``, "the
action's latency_ms argument" under ``chaos run`` and "the fault spec's
latency_ms" in pytest; every option the table names for ``chaosgate`` is an
option of the click command, and every argument it names for ``chaos run``
is a parameter of the action or of the load control.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from chaosgate.cli import app
from chaosgate.ctk import actions
from chaosgate.ctk.controls import load as load_control
from chaosgate.exceptions import UsageError
from chaosgate.faults import FaultKind, FaultSession, Ledger, check_spec
from chaosgate.faults.network import build_scope
from chaosgate.faults.selection import SafetyRefused, check_blast_radius, how_many, pick
from chaosgate.frontends import FRONT_ENDS, FrontEnd, option, settings
from chaosgate.load.command import LoadParameterError, check_load_parameters
from chaosgate.load.profiles import find_profile, read_profile
from chaosgate.load.runner import spec_for_target
from chaosgate.platforms import platform_for
from chaosgate.platforms.base import PodRef
from chaosgate.pytest.fixtures import LoadFactory
from chaosgate.sandbox.topology import build_topology
from chaosgate.targets import Safety, dump_target, parse_target, render_sandbox_target

pytest_plugins = ["pytester"]

TARGET = parse_target(render_sandbox_target(build_topology(Path("/tmp/sb"), 28790)))
LATENCY = {"kind": FaultKind.LATENCY, "selector": "app=orders", "dependency": "postgres"}

#: front end -> how the same setting reads in its fix
LATENCY_FIX: dict[FrontEnd, str] = {
    "chaosgate": "Fix: pass --latency at most 60000",
    "chaos run": "Fix: pass the action's latency_ms argument at most 60000",
    "pytest": "Fix: pass the fault spec's latency_ms at most 60000",
}


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_latency_above_the_limit_names_the_front_ends_knob(front_end: FrontEnd) -> None:
    with pytest.raises(UsageError) as info:
        check_spec({**LATENCY, "latency_ms": 60_001}, "x", front_end=front_end)
    assert LATENCY_FIX[front_end] in str(info.value)
    for other in FRONT_ENDS:  # and no other front end's words
        if other != front_end:
            assert LATENCY_FIX[other] not in str(info.value)


@pytest.mark.parametrize(("front_end", "words"), [
    ("chaosgate", "Fix: give --qty or --percent, not both"),
    ("chaos run", "Fix: give the action's qty argument or the action's percent argument, "
                  "not both"),
    ("pytest", "Fix: give the fault spec's qty or the fault spec's percent, not both"),
])
def test_qty_and_percent_both_given_names_the_front_ends_knobs(front_end: FrontEnd,
                                                               words: str) -> None:
    with pytest.raises(UsageError) as info:
        how_many(4, 1, 50, front_end=front_end)
    assert str(info.value) == f"fault: both qty (1) and percent (50) are given. {words}"


def test_too_many_pods_names_the_front_ends_knobs() -> None:
    pods = [PodRef(f"orders-{i}", "shop", {"app": "orders"}, True, str(i)) for i in range(3)]
    one = Safety(namespaces=("shop",), max_pods_per_fault=1)
    with pytest.raises(SafetyRefused, match="Fix: lower the action's qty argument or the "
                                            "action's percent argument, or wait"):
        pick(pods, 4, 1, front_end="chaos run")
    with pytest.raises(SafetyRefused, match="Fix: lower the fault spec's qty or the fault "
                                            "spec's percent, or raise the limit"):
        check_blast_radius(one, pods[:2], pods, front_end="pytest")
    with pytest.raises(SafetyRefused, match="Fix: lower --qty or --percent, or raise"):
        check_blast_radius(one, pods[:2], pods)


@pytest.mark.parametrize(("front_end", "words"), [
    ("chaosgate", "name one side with --selector (e.g. app=api), or name the links with "
                  "--link"),
    ("chaos run", "name one side with the action's selector argument (e.g. app=api), or "
                  "name the links with the action's links argument"),
    ("pytest", "name one side with the fault spec's selector (e.g. app=api), or name the "
               "links with the fault spec's links"),
])
def test_a_network_fault_with_no_side_names_the_front_ends_knobs(front_end: FrontEnd,
                                                                 words: str) -> None:
    with pytest.raises(UsageError) as info:
        build_scope(TARGET, None, None, None, "postgres", (), front_end=front_end)
    assert str(info.value) == f"network fault: no side is named. Fix: {words}"


@pytest.mark.parametrize(("front_end", "words"), [
    ("chaosgate", "Fix: pass --rate above 0"),
    ("chaos run", "Fix: pass the load control's rate argument above 0"),
    ("pytest", "Fix: pass GameDayConfig(rate=N) or chaos_load(rate=N) above 0"),
])
def test_a_bad_load_rate_names_the_front_ends_knob(front_end: FrontEnd, words: str) -> None:
    with pytest.raises(LoadParameterError, match=re.escape(words)):
        check_load_parameters(duration=30, rate=-1, front_end=front_end)


# -- the entry points pass their front end ----------------------------------------------
def test_a_chaos_run_action_names_its_own_argument(run: dict[str, Any]) -> None:
    """``run``: a fresh chaos run state on a target nobody serves (tests/unit/conftest.py)."""
    with pytest.raises(UsageError, match="Fix: pass the action's latency_ms argument as a "
                                         "whole number of ms"):
        actions.add_latency(latency_ms=-5, selector="app=orders", dependency="postgres",
                            configuration=run)
    with pytest.raises(UsageError, match="Fix: name one side with the action's selector "
                                         "argument"):
        actions.partition_network(dependency="postgres", configuration=run)


def test_a_pytest_fault_session_and_chaos_load_name_the_spec_and_fixture(
        tmp_path: Path) -> None:
    session = FaultSession(TARGET, platform_for(TARGET), Ledger(tmp_path / "l.jsonl"),
                           front_end="pytest")
    with pytest.raises(UsageError, match="Fix: name one side with the fault spec's selector"):
        session.build({"kind": FaultKind.PARTITION, "dependency": "postgres"})
    with pytest.raises(LoadParameterError, match=re.escape("Fix: pass chaos_load(users=N)")):
        LoadFactory(TARGET, tmp_path)(30, rate=5, users=0)
    # the CLI's LoadSpec keeps the CLI's words
    prof = read_profile(find_profile("open", tmp_path, TARGET.source))
    with pytest.raises(LoadParameterError, match="Fix: pass --users between"):
        spec_for_target(TARGET, prof, 30, out_root=tmp_path, users=0)


# -- the table names knobs that exist -----------------------------------------------------
def _command(*path: str) -> click.Command:
    command: click.Command = app
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def _flags(command: click.Command) -> set[str]:
    return {flag for param in command.params for flag in param.opts}


#: fault kind -> the chaos run action(s) that inject it
ACTIONS: dict[FaultKind, tuple[Callable[..., Any], ...]] = {
    FaultKind.KILL_PODS: (actions.kill_pods,), FaultKind.PARTITION: (actions.partition_network,),
    FaultKind.LATENCY: (actions.add_latency,), FaultKind.FAILOVER_DB: (actions.failover_database,),
    FaultKind.STRESS: (actions.stress,),
}


def _fields(kind: FaultKind) -> set[str]:
    from chaosgate.faults.spec import FAULT_FIELDS

    required, optional = FAULT_FIELDS[kind]
    return {f for f in required | optional | {"duration"} if f"fault.{f}" in settings()}


@pytest.mark.parametrize("kind", list(FaultKind))
def test_every_chaosgate_fault_option_named_exists_in_its_command(kind: FaultKind) -> None:
    flags = _flags(_command("fault", kind.value))
    for field in _fields(kind):
        named = option(f"fault.{field}", "chaosgate").split()[0]
        assert named in flags, f"fault.{field}: {named} is not an option of fault {kind}"


@pytest.mark.parametrize("kind", list(FaultKind))
def test_every_chaos_run_argument_named_exists_in_the_action(kind: FaultKind) -> None:
    for field in _fields(kind):
        words = option(f"fault.{field}", "chaos run")
        found = re.fullmatch(r"the action's (\w+) argument", words)
        assert found, words
        if kind is FaultKind.KILL_PODS and field == "duration":
            continue  # kill_pods holds nothing: the action passes duration 0 itself
        for action in ACTIONS[kind]:
            assert found.group(1) in inspect.signature(action).parameters, (action, field)


def test_every_load_knob_named_exists_in_its_front_end() -> None:
    flags = _flags(_command("load", "run"))
    control = inspect.signature(load_control.before_experiment_control).parameters
    fixture = inspect.signature(LoadFactory.__call__).parameters
    loads = [s for s in settings() if s.startswith("load.")]
    assert loads
    for setting in loads:
        name = setting.removeprefix("load.")
        assert option(setting, "chaosgate") in flags, setting
        found = re.fullmatch(r"the load control's (\w+) argument", option(setting, "chaos run"))
        # named as an argument: the control has it; otherwise the control has none
        assert (found.group(1) in control) if found else (name not in control), setting
        assert name in fixture or f"{name}=" in option(setting, "pytest"), setting


def test_every_setting_is_worded_for_every_front_end() -> None:
    for setting in settings():
        for front_end in FRONT_ENDS:
            assert option(setting, front_end).strip(), (setting, front_end)



# -- the real front ends print it -------------------------------------------------------------


def _target_file(folder: Path) -> Path:
    """A sandbox target file on ports nothing listens on (nothing here may reach it)."""
    return dump_target(render_sandbox_target(build_topology(folder / "sb", 28790)),
                       folder / "target.yaml")


def test_chaos_run_prints_the_actions_argument(tmp_path: Path) -> None:
    """``chaos run`` of a bad action: refused before anything is reached (no sandbox)."""
    target = _target_file(tmp_path)
    experiment = {"title": "too slow", "description": "a latency above the limit",
                  "method": [{"type": "action", "name": "slow", "provider": {
                      "type": "python", "module": "chaosgate.ctk.actions", "func": "add_latency",
                      "arguments": {"latency_ms": 60_001, "selector": "app=orders",
                                    "dependency": "postgres"}}}]}
    (tmp_path / "exp.json").write_text(json.dumps(experiment))
    chaos = Path(sys.executable).with_name("chaos")
    done = subprocess.run([str(chaos), "--no-version-check", "--log-file", "chaos.log", "run",
                           "--var", f"chaosgate_target={target}", "exp.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert ("Fix: pass the action's latency_ms argument at most 60000" in output), output
    assert "--latency" not in output


def test_pytest_game_days_and_fixtures_print_the_spec_and_fixture(
        pytester: pytest.Pytester, tmp_path: Path) -> None:
    target = _target_file(tmp_path)
    slow = {"kind": "latency", "selector": "app=orders", "dependency": "postgres",
            "latency_ms": 60_001}
    pytester.makepyfile(test_bad=f'''
        import pytest
        from chaosgate.gameday import GameDayConfig

        @pytest.mark.gameday
        def test_game_day(gameday):
            gameday(GameDayConfig(name="slow", fault={slow!r}))

        def test_fault(chaos_fault):
            chaos_fault({{"kind": "partition", "dependency": "postgres"}})

        def test_load(chaos_load):
            chaos_load(30, rate=5, users=0)
    ''')
    result = pytester.runpytest_subprocess("-p", "no:locust", "-p", "no:cacheprovider",
                                           f"--chaos-target={target}",
                                           f"--chaos-ledger={tmp_path / 'ledger.jsonl'}")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random([
        "*Fix: pass the fault spec's latency_ms at most 60000*",
        "*Fix: name one side with the fault spec's selector*",
        "*Fix: pass chaos_load(users=N) between 1 and*",
    ])
    result.stdout.no_fnmatch_line("*Fix: pass --*")
