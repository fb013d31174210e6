"""Load profiles: Locust ``.conf`` files and the shapes' arithmetic (pure, but for file reads).

A profile is a Locust config file (``loadprofiles/steady.conf``, ...): the
same file plain ``locust --config`` reads. chaosgate reads it too, to know
the locustfile, the user count and the pace before it builds a command line
(:mod:`.command`). The shapes in :mod:`.shapes` call :func:`target_users`
every second; keeping that arithmetic here lets it be tested without
importing locust.

Shape options (keys of a .conf file, or ``--key`` on Locust's command line):

- ``shape``: ``steady`` | ``ramp`` | ``spike`` | ``soak`` (default steady);
- ``ramp-up``: ramp length; ``ramp-from``: users at the start (ramp);
- ``spike-at``, ``spike-duration``, ``spike-users`` (spike);
- ``warmup``: a linear warm-up before the plateau (soak).

Durations: Locust's bare seconds (``45``) or ``30s``, ``5m``, ``1h30m``, ``500ms``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..paths import default_folder
from ..targets import parse_duration as targets_parse_duration

__all__ = [
    "SHAPES",
    "Profile",
    "ShapeParams",
    "find_profile",
    "parse_conf",
    "parse_duration",
    "read_profile",
    "target_users",
]

SHAPES = ("steady", "ramp", "spike", "soak")
_TRUE = {"true", "yes", "on", "1"}


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text``: Locust's bare seconds (``45``) or a duration (``30s``, ``1h30m``)."""
    try:
        if isinstance(text, (int, float)) or text.strip().replace(".", "", 1).isdigit():
            seconds = float(text)
        else:
            seconds = float(targets_parse_duration(text))
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite duration")
    if seconds < 0:
        raise ValueError(f"{text!r} is a negative duration")
    return seconds


def parse_conf(text: str) -> dict[str, str]:
    """The ``key = value`` pairs of a Locust config file (ini-like, sections ignored).

    Like Locust's parser (configargparse): ``#`` and ``;`` start comments,
    ``key: value`` and ``key value`` work too, a leading ``--`` is dropped,
    and the last occurrence of a key wins.
    """
    out: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;[":
            continue
        match = re.match(r"^([-\w]+)\s*(?:[:=]\s*|\s+)(.*)$", line) or re.match(r"^([-\w]+)$", line)
        if not match:
            raise ValueError(f"line {lineno}: cannot read {raw!r} (expected key = value)")
        key = match.group(1).lstrip("-")
        value = match.group(2).strip() if match.lastindex and match.lastindex > 1 else "true"
        out[key] = value
    return out


@dataclass(frozen=True)
class Profile:
    """A profile's .conf file and the options it sets."""

    name: str
    path: Path
    options: Mapping[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        """An option's raw value (keys as in the file, e.g. ``spawn-rate``)."""
        return self.options.get(key, default)

    def number(self, key: str, default: float) -> float:
        """A numeric option, or ``default``."""
        value = self.options.get(key)
        try:
            return default if value is None else float(value)
        except ValueError:
            raise ValueError(f"{self.path}: {key} = {value!r} is not a number") from None

    def flag(self, key: str) -> bool:
        """A boolean option (``true``/``yes``/``on``/``1``)."""
        return self.options.get(key, "false").strip().lower() in _TRUE

    @property
    def users(self) -> int:
        """``users`` (default 1)."""
        return int(self.number("users", 1))

    @property
    def open_model(self) -> bool:
        """Whether the profile uses the open model (``open-model = true``)."""
        return self.flag("open-model")

    @property
    def user_rate(self) -> float:
        """Requests (tasks) per second per user (``user-rate``, default 1)."""
        return self.number("user-rate", 1.0)

    @property
    def run_time(self) -> float | None:
        """``run-time`` in seconds, when the file sets one."""
        value = self.options.get("run-time")
        return None if value is None else parse_duration(value)

    def locustfile(self, cwd: Path) -> Path | None:
        """The ``locustfile`` it names: relative to the .conf's folder or the one above
        (``loadprofiles/shop.py`` beside ``loadprofiles/``), else to ``cwd`` as Locust reads it."""
        value = self.options.get("locustfile")
        if value is None:
            return None
        for base in (self.path.parent, self.path.parent.parent, cwd):
            candidate = (base / value).resolve()
            if candidate.exists():
                return candidate
        return (cwd / value).resolve()


def read_profile(path: Path) -> Profile:
    """Read a profile's .conf file; ValueError says which line is wrong."""
    try:
        options = parse_conf(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return Profile(name=path.stem, path=path, options=options)


@dataclass(frozen=True)
class ShapeParams:
    """What a shape needs; built from Locust's parsed options by :mod:`.shapes`."""

    shape: str = "steady"
    users: int = 1
    spawn_rate: float = 1.0
    ramp_up: float = 60.0
    ramp_from: int = 0
    spike_at: float = 30.0
    spike_duration: float = 10.0
    spike_users: int = 0  # 0: three times ``users``
    warmup: float = 60.0

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; expected one of {', '.join(SHAPES)}")
        if self.users < 0 or self.spawn_rate <= 0:
            raise ValueError("users must be >= 0 and spawn rate > 0")


def _linear(t: float, length: float, start: int, end: int) -> int:
    if length <= 0 or t >= length:
        return end
    return start + round((end - start) * max(t, 0.0) / length)


def target_users(p: ShapeParams, t: float) -> tuple[int, float]:
    """``(users, spawn_rate)`` the shape asks for ``t`` seconds into the run.

    steady: ``users`` at ``spawn_rate``; ramp: linear from ``ramp_from`` to
    ``users`` over ``ramp_up``; spike: ``users``, then ``spike_users`` from
    ``spike_at`` for ``spike_duration``, then ``users`` again; soak: linear
    warm-up from 1 user over ``warmup``, then ``users``. Changes between
    ticks are applied at once (a spawn rate of at least the step per second).
    """
    fast = float(max(p.users, p.spike_users, 1))
    if p.shape == "ramp":
        return _linear(t, p.ramp_up, p.ramp_from, p.users), fast
    if p.shape == "spike":
        peak = p.spike_users or 3 * p.users
        in_spike = p.spike_at <= t < p.spike_at + p.spike_duration
        return (peak if in_spike else p.users), float(max(peak, 1))
    if p.shape == "soak":
        return _linear(t, p.warmup, min(1, p.users), p.users), fast
    return p.users, p.spawn_rate


def find_profile(name: str, cwd: Path, target_file: str | Path | None = None) -> Path:
    """The .conf of profile ``name``: a path, else ``<name>.conf`` of the profile folder.

    A path (``x.conf``, ``dir/x``) is read as written, a relative one from
    ``cwd``. A bare name is looked up in ``loadprofiles/`` beside the target
    file, else in the profiles shipped with chaosgate
    (:func:`chaosgate.paths.default_folder`); never in the working
    directory. ValueError lists the profiles there are when none matches.
    """
    direct = Path(name)
    if direct.suffix == ".conf" or direct.parent != Path("."):
        candidate = direct if direct.is_absolute() else cwd / direct
        if candidate.is_file():
            return candidate
        raise ValueError(f"profile file {name} does not exist")
    folder = default_folder("loadprofiles", target_file)
    if (folder / f"{name}.conf").is_file():
        return folder / f"{name}.conf"
    known = sorted(p.stem for p in folder.glob("*.conf")) if folder.is_dir() else []
    raise ValueError(f"unknown profile {name!r} in {folder}; known: {', '.join(known) or 'none'}")
