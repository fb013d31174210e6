"""pytest plugin: ``--chaos-*`` options, markers and fixtures for game-day scenarios.

Kept thin (as pytest-xdist's plugin is): options, markers and fixtures
only, and this module imports only pytest; everything else is imported
inside the fixtures and hooks that need it, so loading the plugin costs
nothing for test suites that do not use chaosgate. With ``--chaos-target``
it registers the game-day session (:class:`.session.ChaosSession`) as a
plugin of its own, which owns the results, the summary and the exit code.

Options: ``--chaos-target FILE`` (without it game days skip, saying why),
``--chaos-profile NAME``, ``--chaos-rate RPS``, ``--chaos-repeat N`` (each
game day N times: TTR per run, MTTR with a bootstrap interval, the MTTR
plot), ``--chaos-dry-run`` (print each game day's fault plan; no load, no
fault, no ledger entry), ``--chaos-results FILE`` (game-day results JSON,
default ``gameday.json`` in ``reports/`` of the target's project folder),
``--chaos-catalog PATH`` (the SLO catalogue; default ``probes/`` beside the
target file, else the shipped one: :mod:`chaosgate.paths`), ``--chaos-ledger FILE``,
``--chaos-kubeconfig FILE`` (the live Kubernetes suite).

Markers: ``gameday`` (a game-day scenario: needs ``--chaos-target``) and
``fault(kind)`` (the fault it injects; must match its game day's fault).

Fixtures: ``chaos_target``, ``chaos_platform``, ``chaos_fault`` (faults from
specs, always reverted at teardown, through the ledger if need be),
``chaos_load`` (bounded load sessions), ``chaos_slo`` (SLO catalogue and
Prometheus client), ``chaos_timeline`` (timelines, TTR and plot of a custom
scenario) and ``gameday`` (a whole game day through the engine, reported to
Allure, judged: see :mod:`chaosgate.pytest.scenario`). SIGINT and SIGTERM
during a game day revert its fault, then stop the session with exit code
130 or 143.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..platforms.base import Platform
    from ..targets import Target
    from .fixtures import FaultFactory, LoadFactory, SLOAccess, TimelineHelper
    from .scenario import GameDayRunner
    from .session import ChaosSession

__all__ = ["chaos_fault", "chaos_load", "chaos_platform", "chaos_slo", "chaos_target",
           "chaos_timeline", "gameday"]

NO_TARGET = ("no --chaos-target given: game days run against a target, e.g. "
             "pytest scenarios --chaos-target targets/sandbox.yaml")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``--chaos-*`` command line options."""
    group = parser.getgroup("chaosgate", "chaosgate resilience testing")
    add = group.addoption
    add("--chaos-target", metavar="FILE", default=None,
        help="target file (e.g. targets/sandbox.yaml); game days skip without one")
    add("--chaos-profile", metavar="NAME", default=None,
        help="load profile of loadprofiles/ (default: open, or the scenario's own)")
    add("--chaos-rate", metavar="RPS", type=float, default=None,
        help="requests per second of the open-model load (default: the scenario's, 40)")
    add("--chaos-repeat", metavar="N", type=int, default=1,
        help="run each game day N times: TTR per run, MTTR with a confidence interval")
    add("--chaos-dry-run", action="store_true", default=False,
        help="print what each fault would do and touch nothing (no load, no ledger entry)")
    add("--chaos-results", metavar="FILE", default=None,
        help="where the game-day results (JSON) go (default: gameday.json in reports/ of "
             "the target's project folder)")
    add("--chaos-catalog", metavar="PATH", default=None,
        help="the SLO catalogue, a folder or a file (default: probes/ beside the target "
             "file or the folder above it, else the one shipped with chaosgate)")
    add("--chaos-ledger", metavar="FILE", default=None,
        help="the fault ledger (default: $CHAOSGATE_LEDGER, else the target's: "
             "<state_dir>/ledger.jsonl for a sandbox, else "
             "$XDG_STATE_HOME/chaosgate/<target>/ledger.jsonl)")
    add("--chaos-stop-when", metavar="CONDITION", action="append", default=[],
        help="a stop condition for every game day's fault (repeatable; added to the "
             "target's safety.stop_when): alert:NAME, burn:SLO>5%%, or PromQL that returns a "
             "sample; when it holds the fault is reverted at once and the game day aborted")
    add("--chaos-force", action="store_true", default=False,
        help="start game days even when an SLO has less error budget left than the "
             "target's safety.min_error_budget")
    add("--chaos-kubeconfig", metavar="FILE", default=None,
        help="kubeconfig of a real cluster: enables the live Kubernetes suite")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers, check the options, export ``--chaos-kubeconfig``."""
    config.addinivalue_line("markers", "gameday: a game-day scenario (needs --chaos-target)")
    config.addinivalue_line("markers", "fault(kind): the fault a game day injects, e.g. "
                                       "fault('partition') or fault(kind='kill-pods')")
    kubeconfig = config.getoption("--chaos-kubeconfig", default=None)
    if kubeconfig:
        os.environ["CHAOSGATE_KUBECONFIG"] = str(kubeconfig)
    if config.getoption("--chaos-repeat") < 1:
        raise pytest.UsageError("--chaos-repeat: must be at least 1")
    for text in config.getoption("--chaos-stop-when", default=None) or ():
        from ..exceptions import TargetError
        from ..targets import parse_stop_condition

        try:
            parse_stop_condition(text, "--chaos-stop-when")
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None
    rate = config.getoption("--chaos-rate")
    if rate is not None and not rate > 0:
        raise pytest.UsageError("--chaos-rate: must be a positive number of requests/s")
    if config.getoption("--chaos-target") and config.getoption("numprocesses", default=None):
        raise pytest.UsageError("game days share one target and must not overlap: "
                                "run them without -n (pytest-xdist)")
    if config.getoption("--chaos-target"):
        from .session import PLUGIN_NAME, ChaosSession, PytestSettings

        config.pluginmanager.register(ChaosSession(config, PytestSettings.from_config(config)),
                                      PLUGIN_NAME)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``--chaos-target``, game days are skipped with the reason."""
    if config.getoption("--chaos-target"):
        return
    skip = pytest.mark.skip(reason=NO_TARGET)
    for item in items:
        if item.get_closest_marker("gameday") is not None:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str | None:
    """Name the chaos target (and the load settings) in pytest's header."""
    target = config.getoption("--chaos-target")
    if not target:
        return None
    dry = " (dry run)" if config.getoption("--chaos-dry-run") else ""
    for text in config.getoption("--chaos-stop-when", default=None) or ():
        from ..exceptions import TargetError
        from ..targets import parse_stop_condition

        try:
            parse_stop_condition(text, "--chaos-stop-when")
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None
    rate = config.getoption("--chaos-rate")
    return (f"chaosgate target: {target}{dry}; profile "
            f"{config.getoption('--chaos-profile') or 'scenario default'}, rate "
            f"{'scenario default' if rate is None else f'{rate:g}/s'}, repeat "
            f"{config.getoption('--chaos-repeat')}")


def _session(config: pytest.Config) -> ChaosSession:
    """The registered game-day session (there is one whenever ``--chaos-target`` is given)."""
    from .session import PLUGIN_NAME

    session = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if session is None:  # pragma: no cover - fixtures needing it skip without a target
        raise pytest.UsageError("chaosgate: no game-day session: pass --chaos-target FILE")
    return session  # type: ignore[no-any-return]


# -- fixtures ---------------------------------------------------------------
@pytest.fixture(scope="session")
def chaos_target(pytestconfig: pytest.Config) -> Target:
    """The loaded ``--chaos-target``; skips the test when none was given."""
    path = pytestconfig.getoption("--chaos-target")
    if not path:
        pytest.skip(NO_TARGET)
    from ..exceptions import TargetError
    from ..faults import ledger_for
    from ..targets import load_target

    try:
        target = load_target(path)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from exc
    session = _session(pytestconfig)
    session.facts_from(target)
    ledger_for(target, session.settings.ledger, "pytest")  # children are recorded beside it
    return target


@pytest.fixture(scope="session")
def chaos_platform(chaos_target: Target) -> Platform:
    """The target's platform (sandbox or Kubernetes): pods, links, faults."""
    from ..platforms import platform_for

    return platform_for(chaos_target)


@pytest.fixture
def chaos_fault(request: pytest.FixtureRequest, chaos_target: Target,
                chaos_platform: Platform) -> Iterator[FaultFactory]:
    """``chaos_fault(spec)``: inject a fault from a spec; every one is reverted at teardown
    (SIGINT/SIGTERM revert at once), from the ledger if its handle could not."""
    from ..faults import FaultSession, ledger_for
    from .fixtures import FaultFactory

    state = _session(request.config)
    session = FaultSession(chaos_target, chaos_platform,
                           ledger_for(chaos_target, state.settings.ledger, "pytest"),
                           log=state.progress(), owner="chaos_fault teardown",
                           front_end="pytest")
    factory = FaultFactory(session, dry_run=state.settings.dry_run,
                           on_plan=lambda plan: state.plans.append((request.node.name, plan)))
    with session.guard():
        yield factory
    report = session.last_report
    if report is not None and not report.clean:
        problems = report.problems + [f"{e.id}: still open in the ledger {session.ledger.path}"
                                      for e in report.still_open]
        pytest.fail("chaos_fault teardown could not revert: " + "; ".join(problems),
                    pytrace=False)


@pytest.fixture
def chaos_load(request: pytest.FixtureRequest, chaos_target: Target) -> Iterator[LoadFactory]:
    """``chaos_load(duration, rate=...)``: a started, bounded load session (stopped at teardown)."""
    from .fixtures import LoadFactory

    s = _session(request.config).settings
    factory = LoadFactory(chaos_target, s.out_dir, s.profile, s.rate, s.dry_run)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def chaos_slo(request: pytest.FixtureRequest, chaos_target: Target) -> SLOAccess:
    """The SLO catalogue (``--chaos-catalog``, else ``probes/`` beside the target file, else
    the shipped one) and the target's Prometheus client."""
    from ..clients.prometheus import PrometheusClient
    from ..paths import default_folder
    from ..slo.catalog import load_catalog
    from .fixtures import SLOAccess

    chosen = request.config.getoption("--chaos-catalog", default=None)
    catalog = load_catalog(chosen or default_folder("probes", chaos_target.source))
    return SLOAccess(catalog, PrometheusClient.from_config(chaos_target.prometheus))


@pytest.fixture
def chaos_timeline(chaos_target: Target, chaos_slo: SLOAccess) -> TimelineHelper:
    """Timelines and TTR of a custom scenario (both observers), and its plot for Allure."""
    from .fixtures import TimelineHelper

    return TimelineHelper(chaos_target, chaos_slo)


@pytest.fixture
def gameday(request: pytest.FixtureRequest, chaos_target: Target,
            chaos_platform: Platform) -> GameDayRunner:
    """``gameday(GameDayConfig(...), feature=..., story=...)``: run, report and judge a game
    day (SLOViolated on fail, Inconclusive on inconclusive; the result on pass)."""
    from .scenario import GameDayRunner

    return GameDayRunner(request, _session(request.config), chaos_target, chaos_platform)
