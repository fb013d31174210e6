"""The fault proxy's pure model: proxies, toxics, validation and JSON shapes.

Nothing here does I/O. Every request body the HTTP API receives is parsed
and validated here, and every JSON document it returns is shaped here, so
that the wire format can be tested with plain data against Toxiproxy 2.x:

- a proxy is ``{"name", "listen", "upstream", "enabled", "toxics": [...]}``;
- a toxic is ``{"name", "type", "stream", "toxicity", "attributes": {...}}``;
- an error is ``{"error": "<message>", "status": <http status>}``.

Errors are raised as :class:`ApiError`, which carries the HTTP status and
Toxiproxy's message text ("proxy not found", "toxic already exists", ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = [
    "DEFAULT_LISTEN",
    "STREAMS",
    "TOXIC_TYPES",
    "ApiError",
    "PopulateStep",
    "ProxySpec",
    "ToxicSpec",
    "ordered_toxics",
    "parse_address",
    "parse_json",
    "parse_populate",
    "parse_proxy",
    "parse_toxic",
    "plan_populate",
    "proxy_json",
    "slice_offsets",
    "update_proxy",
    "update_toxic",
]

# Toxiproxy listens on all interfaces when "listen" is omitted; the sandbox
# keeps everything on the loopback interface instead.
DEFAULT_LISTEN = "127.0.0.1:0"
STREAMS = ("upstream", "downstream")

# Every supported toxic type and its attributes with their defaults (all
# integers: milliseconds, KB/s or bytes), as Toxiproxy reports them.
TOXIC_TYPES: Mapping[str, Mapping[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "limit_data": {"bytes": 0},
    # Toxiproxy's slicer: bytes per slice (average +/- variation), delay in µs
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
}

Json = dict[str, object]


class ApiError(Exception):
    """An error the HTTP API reports as ``{"error": message, "status": status}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> Json:
        """The error body, exactly as Toxiproxy shapes it."""
        return {"error": self.message, "status": self.status}

    @classmethod
    def bad_request(cls, detail: str) -> ApiError:
        """Toxiproxy's ``ErrBadRequestBody`` joined with ``detail``."""
        return cls(f"bad request body: {detail}", 400)

    @classmethod
    def missing_field(cls, name: str) -> ApiError:
        """Toxiproxy's ``ErrMissingField`` for field ``name``."""
        return cls(f"missing required field: {name}", 400)

    @classmethod
    def proxy_not_found(cls) -> ApiError:
        """404 for an unknown proxy name."""
        return cls("proxy not found", 404)

    @classmethod
    def proxy_exists(cls) -> ApiError:
        """409 for a proxy name already in use."""
        return cls("proxy already exists", 409)

    @classmethod
    def toxic_not_found(cls) -> ApiError:
        """404 for an unknown toxic name."""
        return cls("toxic not found", 404)

    @classmethod
    def toxic_exists(cls) -> ApiError:
        """409 for a toxic name already in use on the proxy."""
        return cls("toxic already exists", 409)


def parse_json(raw: bytes) -> object:
    """Decode a request body; an empty or malformed body is a 400."""
    if not raw.strip():
        raise ApiError.bad_request("EOF")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError.bad_request(str(exc)) from None


def _object(body: object, what: str = "body") -> Json:
    if not isinstance(body, dict):
        raise ApiError.bad_request(f"{what} must be a JSON object")
    return body


def _string(data: Json, key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError.bad_request(f"field {key!r} must be a string")
    return value


def _boolean(data: Json, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError.bad_request(f"field {key!r} must be a boolean")
    return value


def parse_address(text: str, field_name: str, allow_port_zero: bool) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` too) and validate it; raises a 400."""
    host, sep, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit():
        raise ApiError.bad_request(f"{field_name} {text!r} is not host:port")
    port = int(port_text)
    if not (0 if allow_port_zero else 1) <= port <= 65535:
        raise ApiError.bad_request(f"{field_name} {text!r} has an invalid port")
    return host, port


@dataclass(frozen=True)
class ProxySpec:
    """The declared state of one proxy (what the API shows, toxics aside)."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True

    def validate(self) -> ProxySpec:
        """Check both addresses; returns ``self`` for chaining."""
        parse_address(self.listen, "listen", allow_port_zero=True)
        parse_address(self.upstream, "upstream", allow_port_zero=False)
        return self


def parse_proxy(body: object, what: str = "") -> ProxySpec:
    """Validate a ``POST /proxies`` body (``enabled`` defaults to true)."""
    data = _object(body)
    suffix = f" at {what}" if what else ""
    name = _string(data, "name")
    if not name:
        raise ApiError.missing_field("name" + suffix)
    upstream = _string(data, "upstream")
    if not upstream:
        raise ApiError.missing_field("upstream" + suffix)
    listen = _string(data, "listen") or DEFAULT_LISTEN
    return ProxySpec(name, listen, upstream, _boolean(data, "enabled", True)).validate()


def update_proxy(current: ProxySpec, body: object) -> ProxySpec:
    """Apply a ``POST/PATCH /proxies/{name}`` body; omitted fields keep their value."""
    data = _object(body)
    return replace(
        current,
        listen=_string(data, "listen") or current.listen,
        upstream=_string(data, "upstream") or current.upstream,
        enabled=_boolean(data, "enabled", current.enabled),
    ).validate()


def parse_populate(body: object) -> list[ProxySpec]:
    """Validate a whole ``POST /populate`` body before anything is changed."""
    if not isinstance(body, list):
        raise ApiError.bad_request("populate body must be a JSON list of proxies")
    specs = [parse_proxy(item, f"proxy {i}") for i, item in enumerate(body, start=1)]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ApiError.bad_request(f"duplicate proxy name {spec.name!r}")
        seen.add(spec.name)
    return specs


@dataclass(frozen=True)
class PopulateStep:
    """What populate does with one proxy: keep the existing one, or (re)create it."""

    spec: ProxySpec
    action: Literal["keep", "create", "replace"]


def plan_populate(
    existing: Mapping[str, ProxySpec], incoming: Sequence[ProxySpec]
) -> list[PopulateStep]:
    """Toxiproxy's populate semantics: an existing proxy with the same listen
    and upstream is kept as it is (toxics and enabled state included); one that
    differs is replaced; a new name is created. Proxies not listed are untouched."""
    steps: list[PopulateStep] = []
    for spec in incoming:
        old = existing.get(spec.name)
        if old is None:
            steps.append(PopulateStep(spec, "create"))
        elif old.listen == spec.listen and old.upstream == spec.upstream:
            steps.append(PopulateStep(old, "keep"))
        else:
            steps.append(PopulateStep(spec, "replace"))
    return steps


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic as the API declares it."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)

    def attr(self, key: str) -> int:
        """An attribute's value, falling back to the type's default."""
        return self.attributes.get(key, TOXIC_TYPES[self.type][key])

    def to_json(self) -> Json:
        """The toxic as Toxiproxy returns it, every attribute of its type included."""
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": {key: self.attr(key) for key in TOXIC_TYPES[self.type]},
        }


def _toxicity(data: Json, default: float) -> float:
    value = data.get("toxicity", default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError.bad_request("toxicity must be a number")
    if not 0.0 <= value <= 1.0:
        raise ApiError.bad_request("toxicity must be between 0 and 1")
    return float(value)


def _attributes(toxic_type: str, body: object, base: Mapping[str, int]) -> dict[str, int]:
    if body is None:
        return dict(base)
    data = _object(body, "attributes")
    result = dict(base)
    for key in TOXIC_TYPES[toxic_type]:
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError.bad_request(f"attribute {key!r} must be an integer")
        if value < 0:
            raise ApiError.bad_request(f"attribute {key!r} must not be negative")
        result[key] = value
    return result


def parse_toxic(body: object, existing_names: Iterable[str] = ()) -> ToxicSpec:
    """Validate a ``POST /proxies/{name}/toxics`` body, in Toxiproxy's order of
    checks: stream, type, name clash (409), then attributes."""
    data = _object(body)
    stream = _string(data, "stream", "downstream") or "downstream"
    if stream not in STREAMS:
        raise ApiError("stream was invalid, can be either upstream or downstream", 400)
    toxic_type = _string(data, "type")
    name = _string(data, "name") or f"{toxic_type}_{stream}"
    if toxic_type not in TOXIC_TYPES:
        raise ApiError("invalid toxic type", 400)
    if name in set(existing_names):
        raise ApiError.toxic_exists()
    attributes = _attributes(toxic_type, data.get("attributes"), TOXIC_TYPES[toxic_type])
    return ToxicSpec(name, toxic_type, stream, _toxicity(data, 1.0), attributes)


def update_toxic(current: ToxicSpec, body: object) -> ToxicSpec:
    """Apply a toxic update: attributes are merged, toxicity kept unless given;
    name, type and stream cannot change (Toxiproxy ignores them)."""
    data = _object(body)
    return replace(
        current,
        toxicity=_toxicity(data, current.toxicity),
        attributes=_attributes(current.type, data.get("attributes"), current.attributes),
    )


def slice_offsets(size: int, average: int, variation: int, rand: Callable[[int], int]) -> list[int]:
    """Where Toxiproxy's slicer cuts a ``size``-byte chunk: the boundaries
    ``[0, a, b, ..., size]``. A span no larger than ``average + variation`` is
    kept whole; a larger one is cut about in the middle (moved by
    ``rand(2 * variation) - variation``) and each half cut again, so slices
    vary evenly with no bias at either end. ``rand(n)`` draws from
    ``0..n-1`` (``random.randrange``); an average of 0 keeps the chunk whole
    (Toxiproxy never returns); a variation not below the average is taken as
    ``average - 1``."""
    if average <= 0 or size <= 0:
        return [0, size] if size > 0 else [0]
    variation = min(variation, average - 1)  # Toxiproxy requires variation < average
    bounds = [0]
    spans = [(0, size)]
    while spans:
        start, end = spans.pop()
        if end - start - average <= variation:
            bounds.append(end)
            continue
        mid = start + (end - start) // 2
        if variation > 0:
            mid += rand(variation * 2) - variation
        spans += [(mid, end), (start, mid)]  # left half first
    return bounds


def ordered_toxics(toxics: Iterable[ToxicSpec]) -> list[ToxicSpec]:
    """Toxiproxy lists upstream toxics first, then downstream, each in insertion order."""
    items = list(toxics)
    return [t for t in items if t.stream == "upstream"] + [
        t for t in items if t.stream == "downstream"
    ]


def proxy_json(spec: ProxySpec, toxics: Iterable[ToxicSpec]) -> Json:
    """A proxy with its toxics, as ``GET /proxies/{name}`` returns it."""
    return {
        "name": spec.name,
        "listen": spec.listen,
        "upstream": spec.upstream,
        "enabled": spec.enabled,
        "toxics": [t.to_json() for t in ordered_toxics(toxics)],
    }
