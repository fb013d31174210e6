"""What chaosgate's Chaos Toolkit activities and controls work on: configuration and secrets.

Configuration keys (each also read from its environment variable when the
experiment's configuration does not set it, then a default)::

    chaosgate_target   CHAOSGATE_TARGET   targets/sandbox.yaml   the target file
    chaosgate_ledger   CHAOSGATE_LEDGER   .chaosgate/ledger.jsonl  write-ahead fault ledger
    chaosgate_catalog  CHAOSGATE_CATALOG  (beside the target)    the SLO catalogue
    chaosgate_reports  CHAOSGATE_REPORTS  (beside the target)    load logs, Allure results
    chaosgate_seed     CHAOSGATE_SEED     (none)                 seed of the victim selection

Without a value, the catalogue is ``probes/`` beside the target file (its
folder, then the folder above), else the one shipped with chaosgate; the
reports go to ``reports/`` of the target's project folder; never the
working directory (:mod:`chaosgate.paths`).

The experiments declare them as ``{type: env, key: CHAOSGATE_TARGET, default:
targets/sandbox.yaml}`` so the same file runs on the sandbox and elsewhere;
``chaos run --var chaosgate_target=FILE`` overrides both.

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
from ..faults import DEFAULT_LEDGER
from ..paths import default_folder, default_reports
from ..targets import Credentials, Target

__all__ = [
    "DEFAULTS",
    "SECRETS_SCOPE",
    "Result",
    "Settings",
    "prometheus_client",
    "prometheus_credentials",
    "settings_from",
]

#: What activities return: Chaos Toolkit's discovery calls ``typing.Dict`` a "mapping".
Result = Dict[str, Any]  # noqa: UP006

#: configuration key -> (environment variable, default)
DEFAULTS: Mapping[str, tuple[str, str | None]] = {
    "chaosgate_target": ("CHAOSGATE_TARGET", "targets/sandbox.yaml"),
    "chaosgate_ledger": ("CHAOSGATE_LEDGER", DEFAULT_LEDGER),
    "chaosgate_catalog": ("CHAOSGATE_CATALOG", None),  # None: chaosgate.paths decides
    "chaosgate_reports": ("CHAOSGATE_REPORTS", None),
    "chaosgate_seed": ("CHAOSGATE_SEED", None),
}
SECRETS_SCOPE = "prometheus"


@dataclass(frozen=True)
class Settings:
    """The paths and seed one run uses."""

    target: Path
    ledger: Path
    catalog: Path
    reports: Path
    seed: int | None = None


def _value(configuration: Mapping[str, Any] | None, key: str,
           environ: Mapping[str, str]) -> str | None:
    given = (configuration or {}).get(key)
    if given not in (None, ""):
        return str(given)
    env, default = DEFAULTS[key]
    return environ.get(env) or default


def settings_from(configuration: Mapping[str, Any] | None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of a run: configuration first, then the environment, then defaults."""
    env = os.environ if environ is None else environ

    def path(key: str) -> Path:
        return Path(_value(configuration, key, env) or ".")

    target = path("chaosgate_target")
    catalog = _value(configuration, "chaosgate_catalog", env)
    reports = _value(configuration, "chaosgate_reports", env)
    seed = _value(configuration, "chaosgate_seed", env)
    try:
        parsed = None if seed is None else int(seed)
    except ValueError:
        raise UsageError(f"chaosgate_seed: {seed!r} is not an integer. Fix: give a whole "
                         "number, or leave it out for a random selection") from None
    return Settings(target=target, ledger=path("chaosgate_ledger"),
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
