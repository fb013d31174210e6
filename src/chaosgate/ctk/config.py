"""What chaosgate's Chaos Toolkit activities and controls work on: configuration and secrets.

Configuration keys, each read from, in order: the experiment's configuration
(where ``chaos run --var key=value`` overrides a declared key), ``chaos run
--var key=value`` (or ``--var-file``) even when the experiment does not
declare the key, its environment variable, then a default::

    chaosgate_target   CHAOSGATE_TARGET   targets/sandbox.yaml   the target file
    chaosgate_ledger   CHAOSGATE_LEDGER   the target's ledger    write-ahead fault ledger
    chaosgate_catalog  CHAOSGATE_CATALOG  (beside the target)    the SLO catalogue
    chaosgate_reports  CHAOSGATE_REPORTS  (beside the target)    load logs, Allure results
    chaosgate_seed     CHAOSGATE_SEED     (none)                 seed of the victim selection
    chaosgate_force    CHAOSGATE_FORCE    false                  start though an SLO has less
                                                                 error budget left than the
                                                                 target's safety.min_error_budget

    chaosgate_stop_when      CHAOSGATE_STOP_WHEN      the target's safety.stop_when
    chaosgate_expect_alert   CHAOSGATE_EXPECT_ALERT   (none): the alert that must detect the fault
    chaosgate_detect_within  CHAOSGATE_DETECT_WITHIN  60: seconds after the impact it may take

``chaosgate_stop_when`` is written as the target's ``safety.stop_when`` and
``chaosgate fault --stop-when``: ``alert:NAME``, ``burn:SLO>5%`` or PromQL
that returns a sample (:mod:`chaosgate.targets._stop`); in the experiment a
YAML list, on the command line or in the environment one condition a line or
a JSON list (``--var 'chaosgate_stop_when=["alert:ShopErrorsHigh"]'``). Given,
it replaces the target's list for this run; an empty list leaves the target's.

The target's ledger is ``<state_dir>/ledger.jsonl`` for a sandbox, else
``$XDG_STATE_HOME/chaosgate/<target>/ledger.jsonl``
(:func:`chaosgate.faults.ledger.default_ledger_path`): ``chaosgate cleanup
--target FILE`` finds it from any folder. Without a value, the catalogue is
``probes/`` beside the target file (its folder, then the folder above), else
the one shipped with chaosgate; the reports go to ``reports/`` of the
target's project folder; never the working directory (:mod:`chaosgate.paths`).

Chaos Toolkit merges ``--var`` only into keys the experiment declares; the
others it keeps to itself. :func:`cli_vars` reads them from the ``chaos run``
command line as Chaos Toolkit parsed it (click's current context, whose
``var`` and ``var_file`` parameters are its own), once on the main thread,
and remembers them for the run's other threads.

Secrets: Prometheus credentials may come from Chaos Toolkit secrets instead
of the target file's ``prometheus.auth``: a ``prometheus`` scope with
``bearer_token``, or ``username`` and ``password``. They are turned into a
:class:`~chaosgate.targets.Credentials` (whose repr hides them) and handed
to the Prometheus client; nothing here writes them anywhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict  # noqa: UP035 - see Result

from ..clients.prometheus import PrometheusClient
from ..exceptions import UsageError
from ..frontends import option
from ..paths import default_folder, default_reports
from ..targets import Credentials, StopCondition, Target, parse_stop_condition

__all__ = [
    "DEFAULTS",
    "DEFAULT_DETECT_WITHIN",
    "SECRETS_SCOPE",
    "Result",
    "Settings",
    "cli_vars",
    "parse_flag",
    "parse_stop_when",
    "prometheus_client",
    "prometheus_credentials",
    "settings_from",
]

#: What activities return: Chaos Toolkit's discovery calls ``typing.Dict`` a "mapping".
Result = Dict[str, Any]  # noqa: UP006

#: configuration key -> (environment variable, default)
DEFAULTS: Mapping[str, tuple[str, str | None]] = {
    "chaosgate_target": ("CHAOSGATE_TARGET", "targets/sandbox.yaml"),
    "chaosgate_ledger": ("CHAOSGATE_LEDGER", None),  # None: the target's own ledger
    "chaosgate_catalog": ("CHAOSGATE_CATALOG", None),  # None: chaosgate.paths decides
    "chaosgate_reports": ("CHAOSGATE_REPORTS", None),
    "chaosgate_seed": ("CHAOSGATE_SEED", None),
    "chaosgate_force": ("CHAOSGATE_FORCE", None),  # None: false
    "chaosgate_stop_when": ("CHAOSGATE_STOP_WHEN", None),  # None: the target's
    "chaosgate_expect_alert": ("CHAOSGATE_EXPECT_ALERT", None),
    "chaosgate_detect_within": ("CHAOSGATE_DETECT_WITHIN", None),  # None: 60 s
}
#: Seconds after the impact the expected alert may take to fire, when not configured.
DEFAULT_DETECT_WITHIN = 60.0
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRETS_SCOPE = "prometheus"


@dataclass(frozen=True)
class Settings:
    """The paths and seed one run uses."""

    target: Path
    ledger: Path | None  # None: the target's own ledger (chaosgate.faults.ledger_for)
    catalog: Path
    reports: Path
    seed: int | None = None
    force: bool = False  # start though the error budget is under safety.min_error_budget
    stop_when: tuple[StopCondition, ...] | None = None  # None: the target's safety.stop_when
    expect_alert: str | None = None  # the alert that must detect the fault
    detect_within: float = DEFAULT_DETECT_WITHIN  # seconds after the impact


_SEEN_VARS: list[dict[str, Any]] = []  # the --var values cli_vars found, for other threads


def cli_vars() -> Mapping[str, Any]:
    """The configuration values of ``chaos run --var``/``--var-file``, declared in the
    experiment or not; empty outside ``chaos run`` (an experiment run from Python)."""
    import click

    ctx = click.get_current_context(silent=True)  # thread-local: the main thread's
    params = None if ctx is None else ctx.params
    if params is None or not ({"var", "var_file"} & set(params)):
        return _SEEN_VARS[0] if _SEEN_VARS else {}
    from chaoslib import merge_vars

    found = dict(merge_vars(params.get("var") or None, list(params.get("var_file") or ()))[0])
    _SEEN_VARS[:] = [found]
    return found


def _raw(configuration: Mapping[str, Any] | None, key: str,
         environ: Mapping[str, str], given_vars: Mapping[str, Any]) -> Any:
    """The key's value as given (a list stays a list), else its environment variable, else
    its default."""
    for source in (configuration or {}, given_vars):
        given = source.get(key)
        if given not in (None, "", [], ()):
            return given
    env, default = DEFAULTS[key]
    return environ.get(env) or default


def _value(configuration: Mapping[str, Any] | None, key: str,
           environ: Mapping[str, str], given_vars: Mapping[str, Any]) -> str | None:
    raw = _raw(configuration, key, environ, given_vars)
    return None if raw is None else str(raw)


def _bad(key: str, problem: str, fix: str) -> UsageError:
    return UsageError(f"configuration key {key}: {problem}. Fix: {fix} (in the experiment's "
                      f"configuration, --var {key}=..., or "
                      f"{DEFAULTS[key][0]})")


def parse_flag(key: str, value: Any) -> bool:
    """A yes/no configuration value (true/false, yes/no, on/off, 1/0; None: false)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise _bad(key, f"{value!r} is neither true nor false", "write true or false")


def parse_stop_when(value: Any) -> tuple[StopCondition, ...] | None:
    """``chaosgate_stop_when`` as stop conditions: a list, a JSON list, or one condition a
    line; None (or an empty list) when not given (the target's then stand)."""
    key = "chaosgate_stop_when"
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise _bad(key, f"{text!r} is not a JSON list ({exc})",
                           'write e.g. ["alert:ShopErrorsHigh", "burn:availability>5%"], or '
                           "one condition a line") from None
        else:
            value = [line for line in text.splitlines() if line.strip()]
    if not isinstance(value, list | tuple):
        raise _bad(key, f"{value!r} is not a list of stop conditions",
                   "give a list, e.g. [alert:ShopErrorsHigh]")
    found = tuple(parse_stop_condition(item, f"configuration key {key}", f"item {i + 1}")
                  for i, item in enumerate(value))
    return found or None


def _expect_alert(value: str | None) -> str | None:
    if value is not None and not _ALERT_NAME.match(value.strip()):
        raise _bad("chaosgate_expect_alert", f"{value!r} is not a Prometheus alert name",
                   "name the alerting rule, e.g. ShopAvailabilityBurn")
    return None if value is None else value.strip()


def _detect_within(value: str | None) -> float:
    if value is None:
        return DEFAULT_DETECT_WITHIN
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise _bad("chaosgate_detect_within", f"{value!r} is not a positive number of seconds",
                   "give the seconds the alert may take after the impact, e.g. 30")
    return seconds


def settings_from(configuration: Mapping[str, Any] | None,
                  environ: Mapping[str, str] | None = None,
                  given_vars: Mapping[str, Any] | None = None) -> Settings:
    """The settings of a run: the configuration, then ``--var`` (``given_vars``, default
    :func:`cli_vars`), then the environment, then defaults."""
    env = os.environ if environ is None else environ
    extra = cli_vars() if given_vars is None else given_vars

    def path(key: str) -> Path:
        return Path(_value(configuration, key, env, extra) or ".")

    target = path("chaosgate_target")
    ledger = _value(configuration, "chaosgate_ledger", env, extra)
    catalog = _value(configuration, "chaosgate_catalog", env, extra)
    reports = _value(configuration, "chaosgate_reports", env, extra)
    seed = _value(configuration, "chaosgate_seed", env, extra)
    try:
        parsed = None if seed is None else int(seed)
    except ValueError:
        raise UsageError(f"chaosgate_seed: {seed!r} is not an integer. Fix: give a whole "
                         f"number ({option('seed', 'chaos run')}), or leave it out for a "
                         "random selection") from None
    return Settings(target=target, ledger=None if ledger is None else Path(ledger),
                    catalog=Path(catalog) if catalog else default_folder("probes", target),
                    reports=Path(reports) if reports else default_reports(target),
                    seed=parsed,
                    force=parse_flag("chaosgate_force",
                                     _raw(configuration, "chaosgate_force", env, extra)),
                    stop_when=parse_stop_when(
                        _raw(configuration, "chaosgate_stop_when", env, extra)),
                    expect_alert=_expect_alert(
                        _value(configuration, "chaosgate_expect_alert", env, extra)),
                    detect_within=_detect_within(
                        _value(configuration, "chaosgate_detect_within", env, extra)))


def prometheus_credentials(secrets: Mapping[str, Any] | None) -> Credentials | None:
    """Credentials from Chaos Toolkit secrets, or None when they hold none.

    Accepts the whole secrets mapping (controls get ``{"prometheus": {...}}``)
    or the flat mapping an activity gets when its provider lists
    ``secrets: [prometheus]``.
    """
    if not secrets:
        return None
    scoped = secrets.get(SECRETS_SCOPE)
    flat: Mapping[str, Any] = scoped if isinstance(scoped, Mapping) else secrets
    token, user, password = (flat.get(k) for k in ("bearer_token", "username", "password"))
    if isinstance(token, str) and token:
        return Credentials(bearer_token=token)
    if isinstance(user, str) and user and isinstance(password, str):
        return Credentials(username=user, password=password)
    return None


def prometheus_client(target: Target, secrets: Mapping[str, Any] | None = None,
                      timeout: float = 5.0) -> PrometheusClient:
    """A client for the target's Prometheus; credentials from ``secrets`` win over the file's."""
    config = target.prometheus
    credentials = prometheus_credentials(secrets)
    if credentials is None:
        return PrometheusClient.from_config(config, timeout)
    return PrometheusClient(config.url, timeout, credentials=lambda: credentials,
                            verify=config.verify, source=config.source)
