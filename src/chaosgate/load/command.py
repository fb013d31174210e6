"""Locust command lines for a load run. Pure: builds argument lists, starts nothing.

One :class:`LoadSpec` gives either one local Locust process or a master and
N workers (``--master --expect-workers N``; workers ``--worker``). Every
command:

- runs ``python -m locust`` of this interpreter (the venv that has chaosgate);
- loads the profile's .conf (``--config``) on the local process or master
  only (a worker refuses ``--run-time``); shape and user options reach the
  workers from the master;
- adds the recorder as a second locustfile (``-f shop.py,recorder.py``);
- is checked first: :class:`LoadSpec` refuses a parameter out of bounds
  (:func:`check_load_parameters`: finite, positive, duration, rate and users
  within the target's ``safety`` limits, by default 24 h, 10 000 requests/s
  and 10 000 users) with a UsageError, exit 2, before Locust starts; the fix
  names the parameter as the front end that prints it spells it
  (:attr:`LoadSpec.front_end`, :func:`chaosgate.frontends.option`);
- is bounded: ``--headless --run-time`` (whole seconds, rounded up), and a
  master gives up on workers that do not connect (``--expect-workers-max-wait``);
- across hosts (:attr:`LoadSpec.remote_workers`), the master binds
  ``master_bind:master_port`` and also waits for workers that
  :func:`worker_command` starts elsewhere (``chaosgate load worker``); those
  send their request log to the master (``--ship-requests``), which writes
  it, corrected by each worker's estimated clock offset;
- writes Locust's final statistics with ``--json-file`` (Locust appends
  ``.json``) and exits 0 even when requests failed (``--exit-code-on-error 0``):
  under chaos, failed requests are data, not a broken run.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import UsageError
from ..frontends import FrontEnd, option
from ..targets import DEFAULT_LIMITS, LIMIT_UNITS, SafetyLimits
from .profiles import Profile

__all__ = ["MAX_DURATION_S", "MAX_RATE", "MAX_REQUEST_TIMEOUT_S", "MAX_USERS", "MAX_WORKERS",
           "RECORDER_PATH", "Commands", "LoadParameterError", "LoadSpec", "build_commands",
           "check_load_parameters", "worker_command"]

RECORDER_PATH = Path(__file__).with_name("recorder.py")
EXPECT_WORKERS_MAX_WAIT = 30  # seconds a master waits for its workers to connect


# The defaults of the target's load limits (its safety block), under their old names.
MAX_DURATION_S = DEFAULT_LIMITS.max_load_duration
MAX_RATE = DEFAULT_LIMITS.max_load_rate
MAX_USERS = DEFAULT_LIMITS.max_load_users
#: Most Locust worker processes of a distributed run.
MAX_WORKERS = 64
#: Longest per-request timeout (seconds).
MAX_REQUEST_TIMEOUT_S = 600.0


class LoadParameterError(UsageError, ValueError):
    """A load parameter out of bounds (exit 2); also a ValueError, as it always was."""


def _bad(name: str, value: object, what: str, fix: str) -> LoadParameterError:
    return LoadParameterError(f"load.{name}: {value!r} is not {what}. Fix: {fix}")


def _finite(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _above(name: str, value: float, key: str, limits: SafetyLimits, how: str) -> None:
    """LoadParameterError when ``value`` is above the target's limit ``key``."""
    limit = getattr(limits, key)
    if value <= limit:
        return
    shown = limits.display(key)
    shown += "" if LIMIT_UNITS[key] == "s" else f" {LIMIT_UNITS[key]}"
    raise _bad(name, value, f"within the limit of {shown} ({limits.origin(key)})",
               f"pass {how} at most {shown}, or {limits.raise_fix(key)}")


def check_load_parameters(*, duration: float, rate: float | None = None,
                          users: int | None = None, workers: int = 0,
                          request_timeout: float | None = None,
                          limits: SafetyLimits = DEFAULT_LIMITS,
                          front_end: FrontEnd = "chaosgate") -> None:
    """LoadParameterError (a UsageError, exit 2) naming the first parameter out of bounds,
    before Locust starts: every number finite (no nan, no inf) and positive; duration, rate
    and users within ``limits`` (the target's, else the defaults); workers and the request
    timeout within the bounds above. The fix names the parameter as ``front_end`` spells it.
    """
    def how(name: str) -> str:
        return option(f"load.{name}", front_end)

    if not (_finite(duration) and duration > 0):
        raise _bad("duration", duration, "a load duration",
                   f"pass {how('duration')} above 0 and at most "
                   f"{limits.max_load_duration / 3600:g}h")
    _above("duration", duration, "max_load_duration", limits, how("duration"))
    if rate is not None:
        if not (_finite(rate) and rate > 0):
            raise _bad("rate", rate, "an arrival rate",
                       f"pass {how('rate')} above 0 and at most {limits.max_load_rate:g} "
                       "requests per second")
        _above("rate", rate, "max_load_rate", limits, how("rate"))
    if users is not None:
        if not (_whole(users) and users >= 1):
            raise _bad("users", users, "a number of users",
                       f"pass {how('users')} between 1 and {limits.max_load_users}")
        _above("users", users, "max_load_users", limits, how("users"))
    if not (_whole(workers) and 0 <= workers <= MAX_WORKERS):
        raise _bad("workers", workers, "a number of workers",
                   f"pass {how('workers')} between 0 and {MAX_WORKERS}")
    if request_timeout is not None and not (
            _finite(request_timeout) and 0 < request_timeout <= MAX_REQUEST_TIMEOUT_S):
        raise _bad("request_timeout", request_timeout, "a request timeout in seconds",
                   f"pass {how('request_timeout')} above 0 and at most "
                   f"{MAX_REQUEST_TIMEOUT_S:g}")


@dataclass(frozen=True)
class LoadSpec:
    """What to run: a profile against a host, for a bounded time."""

    profile: Profile
    host: str
    duration: float  # seconds; always bounded
    out_dir: Path  # request log, checkout log, Locust JSON and logs go here
    run_id: str
    users: int | None = None  # overrides the profile's users
    rate: float | None = None  # total arrivals per second: the open model
    workers: int = 0  # 0: one local process; N: a master and N workers
    remote_workers: int = 0  # workers the master also waits for, started on other hosts
    master_bind: str = "127.0.0.1"  # the master's address (remote workers: one they reach)
    master_port: int | None = None  # default: a free port (remote workers: 5557)
    request_timeout: float | None = None  # seconds; default: the profile's (or 2)
    locustfile: Path | None = None  # default: the profile's
    metrics_port: int | None = None  # client metrics (workers: port + 1 + index)
    sd_file: Path | None = None  # Prometheus file_sd to register them in
    metrics_linger: float = 0.0  # keep serving metrics this long at exit
    recorder: bool = True  # False: bare Locust (benchmarks)
    extra_args: tuple[str, ...] = ()
    # prefix of every command, e.g. ("ip", "netns", "exec", "ns1") or ("taskset", "-c", "1");
    # it must exec the command (the harness signals the process it started)
    launcher: tuple[str, ...] = ()
    python: str = field(default=sys.executable)
    cwd: Path = field(default_factory=Path.cwd)
    limits: SafetyLimits = DEFAULT_LIMITS  # the target's (safety block); checked below
    front_end: FrontEnd = "chaosgate"  # whose words a parameter's fix uses

    def __post_init__(self) -> None:
        check_load_parameters(duration=self.duration, rate=self.rate, users=self.users,
                              workers=self.workers, request_timeout=self.request_timeout,
                              limits=self.limits, front_end=self.front_end)
        if not (_whole(self.remote_workers) and 0 <= self.remote_workers <= MAX_WORKERS):
            raise _bad("expect_workers", self.remote_workers, "a number of workers",
                       f"pass {option('load.expect_workers', self.front_end)} between 0 "
                       f"and {MAX_WORKERS}")

    @property
    def distributed(self) -> bool:
        """A master with workers (local, remote or both) rather than one process."""
        return self.workers + self.remote_workers > 0

    @property
    def run_time_s(self) -> int:
        """``--run-time`` in whole seconds (Locust takes no fractions)."""
        return max(1, math.ceil(self.duration))

    @property
    def total_users(self) -> int:
        """Users the run asks for: the override, else the profile's."""
        return self.users if self.users is not None else self.profile.users

    @property
    def request_log(self) -> Path:
        """Where the recorder writes the request log."""
        return self.out_dir / "requests.jsonl"

    @property
    def checkout_log(self) -> Path:
        """Where the recorder writes (client_seq, order_id) of every checkout."""
        return self.out_dir / "checkouts.jsonl"

    @property
    def workers_file(self) -> Path:
        """Where a master writes what it knows of its workers (clock offsets, lost ones)."""
        return self.out_dir / "workers.json"

    @property
    def json_file(self) -> Path:
        """Locust's final statistics (``--json-file`` plus the ``.json`` Locust adds)."""
        return self.out_dir / "locust.json"

    def resolved_locustfile(self) -> Path:
        """The locustfile to run; ValueError when there is none."""
        path = self.locustfile or self.profile.locustfile(self.cwd)
        if path is None:
            raise ValueError(f"{self.profile.path}: no locustfile (set `locustfile = ...`)")
        return path


@dataclass(frozen=True)
class Commands:
    """The processes of one run: ``main`` is the local process or the master."""

    main: tuple[str, ...]
    workers: tuple[tuple[str, ...], ...] = ()


def _load_args(spec: LoadSpec) -> list[str]:
    """Options both the master (or local process) and the workers need."""
    args: list[str] = []
    if spec.rate is not None:
        args += ["--open-model", "--user-rate", f"{spec.rate / spec.total_users:.6g}"]
    if spec.request_timeout is not None:
        args += ["--request-timeout", f"{spec.request_timeout:g}"]
    if spec.recorder:
        args += ["--request-log", str(spec.request_log), "--checkout-log", str(spec.checkout_log),
                 "--loadgen-run-id", spec.run_id]
        if spec.metrics_port:
            args += ["--loadgen-metrics-port", str(spec.metrics_port)]
            if spec.sd_file is not None:
                args += ["--loadgen-sd-file", str(spec.sd_file)]
            if spec.metrics_linger > 0:
                args += ["--metrics-linger", f"{spec.metrics_linger:g}"]
    return args


def build_commands(spec: LoadSpec, master_port: int | None = None) -> Commands:
    """The command lines for ``spec``; distributed runs need a free ``master_port``."""
    files = str(spec.resolved_locustfile())
    if spec.recorder:
        files += f",{RECORDER_PATH}"
    base = [spec.python, "-m", "locust", "-f", files]
    main = [
        spec.python, "-m", "locust", "--config", str(spec.profile.path), "-f", files,
        "--host", spec.host, "--headless", "--only-summary",
        "--run-time", f"{spec.run_time_s}s",
        "--json-file", str(spec.json_file.with_suffix("")),
        "--exit-code-on-error", "0",
    ]
    if spec.users is not None:
        main += ["--users", str(spec.users)]
    main += _load_args(spec)
    main = [*spec.launcher, *main]
    base = [*spec.launcher, *base]
    if not spec.distributed:
        return Commands(tuple(main + list(spec.extra_args)))
    master_port = spec.master_port or master_port
    if master_port is None:
        raise ValueError("a distributed run needs a master port")
    main += [
        "--master", "--expect-workers", str(spec.workers + spec.remote_workers),
        "--expect-workers-max-wait", str(EXPECT_WORKERS_MAX_WAIT),
        "--master-bind-host", spec.master_bind, "--master-bind-port", str(master_port),
    ]
    local = "127.0.0.1" if spec.master_bind in ("0.0.0.0", "*", "") else spec.master_bind
    worker = [*base, "--worker", "--master-host", local, "--master-port",
              str(master_port), *_load_args(spec)]
    return Commands(tuple(main + list(spec.extra_args)),
                    tuple(tuple(worker) for _ in range(spec.workers)))


def worker_command(locustfile: Path, master_host: str, master_port: int, *,
                   recorder: bool = True, python: str = sys.executable) -> tuple[str, ...]:
    """A worker for a master on another host (``chaosgate load worker``): it takes
    the host, users and rate from the master and ships its request log there."""
    files = str(locustfile) + (f",{RECORDER_PATH}" if recorder else "")
    cmd = [python, "-m", "locust", "-f", files, "--worker", "--master-host", master_host,
           "--master-port", str(master_port)]
    return tuple(cmd + (["--ship-requests"] if recorder else []))
