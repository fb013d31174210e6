"""Locust users for chaosgate profiles: short timeouts, paced or open-model load.

LOCUST-SIDE ONLY: this module imports locust, so only a Locust process (a
locustfile) imports it; the harness never does (docs/architecture.md §1). The
guard below refuses any other importer.

:class:`ChaosgateHttpUser` is a ``FastHttpUser`` base class that reads its
options from Locust's command line or .conf file:

- ``--request-timeout`` (seconds, default 2): connect and network timeouts,
  short so that an outage shows up as errors instead of slow requests;
- ``--user-rate`` (default 1): tasks per second per user. In the closed
  model each user paces itself at that rate (0: no pacing);
- ``--open-model``: constant arrival rate instead. Each user starts a task
  every ``1/user-rate`` seconds on a fixed schedule, whatever the response
  times, each in its own greenlet, so a stalled server does not slow the
  arrivals down (no coordinated omission). At most ``--max-in-flight``
  tasks per user run at once; an arrival beyond that is not sent and is
  reported as a failed request of kind ``overload``. Total rate: users x
  user-rate.

Each task sends one request; decorate it with :func:`route` so that an
overload drop is attributed to the route it would have called.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from chaosgate.load.export import OverloadError, require_locust_process

require_locust_process(__name__)

import gevent  # type: ignore[import-untyped]  # noqa: E402
from gevent.pool import Group  # type: ignore[import-untyped]  # noqa: E402
from locust import events  # noqa: E402
from locust.contrib.fasthttp import FastHttpUser  # noqa: E402
from locust.user.wait_time import constant_throughput  # noqa: E402

__all__ = ["ChaosgateHttpUser", "in_flight", "route"]

log = logging.getLogger("chaosgate.load.users")
F = TypeVar("F", bound=Callable[..., Any])
_in_flight = [0]


def in_flight() -> int:
    """Tasks (one request each) running right now in this process."""
    return _in_flight[0]


def route(method: str, name: str) -> Callable[[F], F]:
    """Mark a task as sending ``method name`` (a route template); count it in flight."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _in_flight[0] += 1
            try:
                return func(*args, **kwargs)
            finally:
                _in_flight[0] -= 1

        wrapper.chaosgate_route = (method, name)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _options(parser: Any, **_kw: Any) -> None:
    group = parser.add_argument_group("chaosgate users")
    group.add_argument("--request-timeout", type=float, default=2.0,
                       help="Connect and network timeout per request, seconds (default 2)")
    group.add_argument("--user-rate", type=float, default=1.0,
                       help="Tasks per second per user (closed: pacing, 0 = none; open: arrivals)")
    group.add_argument("--open-model", action="store_true", default=False,
                       help="Constant arrival rate: tasks start on schedule, whatever the latency")
    group.add_argument("--max-in-flight", type=int, default=50,
                       help="Open model: tasks in flight per user; more arrivals count as overload")


_hooks: Any = events  # locust's EventHook is untyped
_hooks.init_command_line_parser.add_listener(_options)


def _option(user: Any, name: str, default: Any) -> Any:
    options = user.environment.parsed_options
    return default if options is None else getattr(options, name, default)


class ChaosgateHttpUser(FastHttpUser):
    """FastHttpUser with short timeouts and either paced (closed) or open-model load."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        timeout = float(_option(self, "request_timeout", 2.0))
        self.network_timeout = self.connection_timeout = timeout
        self.open_model = bool(_option(self, "open_model", False))
        self.user_rate = float(_option(self, "user_rate", 1.0))
        self.max_in_flight = max(1, int(_option(self, "max_in_flight", 50)))
        if self.open_model:
            self.concurrency = self.max_in_flight  # connections of this user's pool
        super().__init__(environment)
        self._arrivals = Group()
        if self.open_model:
            if self.user_rate <= 0:
                raise ValueError("--open-model needs --user-rate > 0")
            self.tasks = [ChaosgateHttpUser._open_loop]

    def wait_time(self) -> float:
        """Closed model: pace each user at ``--user-rate`` tasks per second."""
        if self.open_model or self.user_rate <= 0:
            return 0.0
        return float(constant_throughput(self.user_rate)(self))

    # -- the open model -------------------------------------------------------
    def _open_loop(self) -> None:
        """Start one task every ``1/user_rate`` s on a fixed schedule, until stopped."""
        work = type(self).tasks
        if not work:
            raise ValueError(f"{type(self).__name__} has no tasks")
        interval = 1.0 / self.user_rate
        start = time.monotonic() + random.uniform(0.0, interval)  # spread the users' phases
        n = 0
        try:
            while True:
                delay = start + n * interval - time.monotonic()
                if delay > 0:
                    gevent.sleep(delay)
                n += 1
                task = random.choice(work)
                if len(self._arrivals) >= self.max_in_flight:
                    self._drop(task)
                else:
                    self._arrivals.spawn(self._arrive, task)
        finally:
            self._arrivals.kill(block=True)  # at stop: in-flight tasks are cut, as Locust does

    def _arrive(self, task: Any) -> None:
        try:
            task(self)
        except Exception as exc:  # a task's bug must not stop the schedule
            log.exception("task %s failed", getattr(task, "__name__", task))
            self.environment.events.user_error.fire(
                user_instance=self, exception=exc, tb=exc.__traceback__
            )

    def _drop(self, task: Any) -> None:
        method, name = getattr(task, "chaosgate_route", ("TASK", getattr(task, "__name__", "?")))
        self.environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=0.0,
            response_length=0,
            response=None,
            context={},
            exception=OverloadError(f"{self.max_in_flight} tasks already in flight"),
            start_time=time.time(),
            url=None,
        )
