"""Load shapes for locustfiles: steady, ramp, spike and soak.

LOCUST-SIDE ONLY: this module imports locust, so only a locustfile imports
it; the harness never does (docs/architecture.md §1), and the guard below
refuses any other importer. The arithmetic lives in
:func:`chaosgate.load.profiles.target_users`, which the tests check without
locust.

A locustfile exposes exactly one shape class (Locust uses the first one it
finds), so use :class:`ProfileShape` and pick the shape with the ``shape``
option; the per-shape classes are for locustfiles that want one fixed
shape. Every shape keeps Locust's common options (``use_common_options``):
``--users`` is the plateau, ``--spawn-rate`` the steady ramp-up, and
``--run-time`` still bounds the run.

Options (``--key`` or ``key = value`` in a .conf file): ``shape``,
``ramp-up``, ``ramp-from``, ``spike-at``, ``spike-duration``,
``spike-users``, ``warmup``; see :mod:`chaosgate.load.profiles`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from chaosgate.load.export import require_locust_process
from chaosgate.load.profiles import SHAPES, ShapeParams, parse_duration, target_users

require_locust_process(__name__)

import gevent  # type: ignore[import-untyped]  # noqa: E402
from locust import LoadTestShape, events  # noqa: E402

__all__ = ["ProfileShape", "RampShape", "SoakShape", "SpikeShape", "SteadyShape", "shape_params"]


def _options(parser: Any, **_kw: Any) -> None:
    group = parser.add_argument_group("chaosgate shapes")
    group.add_argument("--shape", choices=SHAPES, default="steady",
                       help="Load shape: steady, ramp, spike or soak (default steady)")
    group.add_argument("--ramp-up", default="60s", help="ramp: length of the ramp (default 60s)")
    group.add_argument("--ramp-from", type=int, default=0, help="ramp: users at the start")
    group.add_argument("--spike-at", default="30s", help="spike: when the spike starts")
    group.add_argument("--spike-duration", default="10s", help="spike: how long it lasts")
    group.add_argument("--spike-users", type=int, default=0,
                       help="spike: users during the spike (default 3 x --users)")
    group.add_argument("--warmup", default="60s", help="soak: linear warm-up before the plateau")


_hooks: Any = events  # locust's EventHook is untyped
_hooks.init_command_line_parser.add_listener(_options)


def shape_params(options: Any, shape: str | None = None) -> ShapeParams:
    """Shape parameters from Locust's parsed options (``environment.parsed_options``)."""

    def get(name: str, default: Any) -> Any:
        value = getattr(options, name, None)
        return default if value is None else value

    return ShapeParams(
        shape=shape or get("shape", "steady"),
        users=int(get("num_users", 1)),
        spawn_rate=float(get("spawn_rate", 1.0)),
        ramp_up=parse_duration(get("ramp_up", "60s")),
        ramp_from=int(get("ramp_from", 0)),
        spike_at=parse_duration(get("spike_at", "30s")),
        spike_duration=parse_duration(get("spike_duration", "10s")),
        spike_users=int(get("spike_users", 0)),
        warmup=parse_duration(get("warmup", "60s")),
    )


class ProfileShape(LoadTestShape):
    """The shape named by the ``shape`` option; the run ends at ``--run-time``."""

    use_common_options: ClassVar[bool] = True
    fixed_shape: ClassVar[str | None] = None
    _params: ShapeParams | None = None

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate for now (called by Locust every second); None ends the run.

        Locust does not apply ``--run-time`` while a shape runs, so the shape
        ends the run itself, to the tick's precision: when less than a tick
        is left it sleeps the remainder, then returns None.
        """
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        if self._params is None:
            self._params = shape_params(options, self.fixed_shape)
        now = time.perf_counter() - self.start_time  # as LoadTestShape.get_run_time()
        run_time = getattr(options, "run_time", None)
        if run_time:
            left = float(run_time) - now
            if left < 1.0:
                gevent.sleep(max(left, 0.0))
                return None
        return target_users(self._params, now)


class SteadyShape(ProfileShape):
    """``--users`` users, reached at ``--spawn-rate``."""

    fixed_shape = "steady"


class RampShape(ProfileShape):
    """Linear from ``--ramp-from`` to ``--users`` users over ``--ramp-up``."""

    fixed_shape = "ramp"


class SpikeShape(ProfileShape):
    """``--users``, then ``--spike-users`` for ``--spike-duration`` from ``--spike-at``."""

    fixed_shape = "spike"


class SoakShape(ProfileShape):
    """A linear ``--warmup``, then ``--users`` for as long as ``--run-time`` says."""

    fixed_shape = "soak"
