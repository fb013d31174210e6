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

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict  # noqa: UP035 - see Result

from ..clients.prometheus import PrometheusClient
from ..exceptions import UsageError
from ..frontends import option
from ..paths import default_folder, default_reports
from ..targets import Credentials, Target

__all__ = [
    "DEFAULTS",
    "SECRETS_SCOPE",
    "Result",
    "Settings",
    "cli_vars",
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
}
SECRETS_SCOPE = "prometheus"


@dataclass(frozen=True)
class Settings:
    """The paths and seed one run uses."""

    target: Path
    ledger: Path | None  # None: the target's own ledger (chaosgate.faults.ledger_for)
    catalog: Path
    reports: Path
    seed: int | None = None


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


def _value(configuration: Mapping[str, Any] | None, key: str,
           environ: Mapping[str, str], given_vars: Mapping[str, Any]) -> str | None:
    for source in (configuration or {}, given_vars):
        given = source.get(key)
        if given not in (None, ""):
            return str(given)
    env, default = DEFAULTS[key]
    return environ.get(env) or default


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
                    seed=parsed)


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
