"""Reading YAML with line numbers, and typed access to its fields.

:func:`read_yaml` turns a file's text into plain data plus a map from each
dotted field path (``links[2].to``) to its line. :class:`Fields` wraps one
mapping of that data and raises :class:`TargetError` naming the field, the
problem and the fix for anything of the wrong type or unknown.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import yaml

from ..exceptions import TargetError
from ._safe_yaml import MAX_FILE_BYTES, MAX_NODES, Budget, SafeLoader, check_node

__all__ = ["Fields", "did_you_mean", "join", "line_of", "parse_duration", "read_yaml", "type_name"]

T = TypeVar("T")

#: Keys that would hold a secret inline; the fix names their *_env / *_file forms.
INLINE_SECRETS = frozenset(
    {"password", "bearer_token", "token", "secret", "api_key", "access_key",
     "secret_access_key", "client_secret"}
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = (86400.0, 3600.0, 60.0, 1.0, 0.001)


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus-style duration (``500ms``, ``1s``, ``2m``, ``1h30m``).

    Raises ValueError for anything else, including zero.
    """
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration")
    try:
        seconds = sum(int(g) * u for g, u in zip(match.groups(), _DURATION_UNITS, strict=True)
                      if g)
    except OverflowError:  # a number of hundreds of digits
        seconds = math.inf
    if not math.isfinite(seconds):
        raise ValueError(f"{text[:40]!r} is too long a duration")
    if seconds <= 0:
        raise ValueError(f"{text!r} is zero")
    return seconds


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def join(path: str, key: str | int) -> str:
    """The dotted path of ``key`` below ``path`` (``links[2]``, ``services.api``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def type_name(value: object) -> str:
    """What a YAML user calls the type of ``value``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def read_yaml(text: str, source: str,
              budget: Budget | None = None) -> tuple[object, dict[str, int]]:
    """Parse ``text``: (plain data, {dotted field path: 1-based line}).

    Duplicate keys, which PyYAML would silently let the last one win, are
    an error here. Untrusted text is bounded (see :mod:`._safe_yaml`): at most
    MAX_FILE_BYTES characters, MAX_ALIASES aliases, MAX_NODES nodes once
    aliases are expanded, MAX_DEPTH levels, no anchor used inside itself and
    no scalar over MAX_SCALAR_CHARS. Any failure is a :class:`TargetError`.
    Several documents of one file share one ``budget`` of aliases and nodes.
    """
    if len(text) > MAX_FILE_BYTES:
        raise TargetError(source, "", f"is larger than {MAX_FILE_BYTES // 1024} KiB",
                          "a target or SLO catalogue is a few KiB: name the right file, or "
                          "split it")
    loader: SafeLoader | None = None
    try:
        budget = Budget() if budget is None else budget
        loader = SafeLoader(text, source, budget)
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        data: object = None
        if node is not None:
            check_node(node, source)
            data = _convert(loader, node, "", lines, source, budget)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TargetError(
            source, "", f"YAML syntax error{where}: {exc.problem or exc.context}",
            "correct the YAML (indentation with spaces, a space after every ':', quoted "
            "strings that contain ': ' or '#')",
        ) from None
    except yaml.YAMLError as exc:
        raise TargetError(source, "", f"YAML error: {exc}", "correct the YAML") from None
    except RecursionError:
        raise TargetError(source, "", "nested too deeply",
                          "flatten the structure; a target or catalogue needs a few "
                          "levels") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _convert(loader: SafeLoader, node: yaml.Node, path: str, lines: dict[str, int],
             source: str, budget: Budget) -> object:
    budget.nodes += 1  # each visit, so an alias counts every time it is expanded
    if budget.nodes > MAX_NODES:
        raise TargetError(source, "", f"line {node.start_mark.line + 1}: more than {MAX_NODES} "
                          "values once its YAML aliases (*name) are expanded",
                          "write the values out without aliases that repeat aliases")
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[object, object] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "a mapping" if isinstance(key_node, yaml.MappingNode) else "a list"
                raise TargetError(source, path, f"line {line}: a key is {kind}, not a string",
                                  "write keys as plain words")
            key = _construct(loader, key_node, source)
            if not isinstance(key, str):
                raise TargetError(
                    source, path, f"line {line}: key {key!r} is "
                    f"{type_name(key)}, not a string", "write keys as plain words",
                )
            if key in result:
                raise TargetError(
                    source, join(path, key),
                    f"line {line}: key {key!r} appears twice",
                    "keep one of the two",
                )
            lines[join(path, key)] = line  # the key's line, not the value's
            result[key] = _convert(loader, value_node, join(path, key), lines, source, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, join(path, i), lines, source, budget)
                for i, item in enumerate(node.value)]
    return _construct(loader, node, source)


def _construct(loader: SafeLoader, node: yaml.Node, source: str) -> object:
    """The value of scalar ``node``; a value Python refuses (a 5000-digit int) is an error."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        raise TargetError(source, "", f"line {node.start_mark.line + 1}: cannot read the value "
                          f"{node.value[:40]!r} ({exc})",
                          "write it as a quoted string or a valid number/date") from None


def line_of(lines: Mapping[str, int], field_path: str) -> int | None:
    """The line of ``field_path``, or of its nearest ancestor present in the file."""
    path = field_path
    while path:
        if path in lines:
            return lines[path]
        path = re.sub(r"(\[\d+\]|\.[^.\[]*|^[^.\[]*)$", "", path)
    return None


@dataclass(frozen=True)
class Fields:
    """One mapping of the document at ``path``, with typed, validating getters.

    Every getter treats its key as required; for an optional key write
    ``fields.string("context", ...) if "context" in fields else None``.
    """

    source: str
    path: str
    data: Mapping[str, object]

    @classmethod
    def of(cls, source: str, path: str, value: object, example: str) -> Fields:
        """Wrap ``value``, which must be a mapping (``example`` shows one in the fix)."""
        if not isinstance(value, Mapping):
            raise TargetError(source, path, f"expected a mapping, got {type_name(value)}",
                              f"write it as {example}")
        return cls(source, path, value)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def section(self, key: str, example: str) -> Fields:
        """The mapping at ``key`` (required)."""
        if key not in self.data:
            where = f"under `{self.path}`" if self.path else "at the top level"
            raise self.error(key, "required section is missing", f"add `{key}: {example}` {where}")
        return Fields.of(self.source, join(self.path, key), self.data[key], example)

    def sections(self, key: str, example: str) -> Iterator[tuple[str, Fields]]:
        """(name, mapping) for each entry of the name -> mapping section at ``key``."""
        outer = self.section(key, f"{{<name>: {example}}}")
        for name, value in outer.data.items():
            if not isinstance(name, str):
                raise outer.error(None, f"the name {name!r} is {type_name(name)}",
                                  "use plain words as names")
            yield name, Fields.of(self.source, join(outer.path, name), value, example)

    def error(self, key: str | int | None, problem: str, fix: str) -> TargetError:
        """A :class:`TargetError` for ``key`` of this mapping (None: the mapping itself)."""
        return TargetError(self.source, self.path if key is None else join(self.path, key),
                           problem, fix)

    def only(self, allowed: Collection[str], context: str = "") -> None:
        """Refuse keys not in ``allowed``; suggest the closest; refuse inline secrets."""
        for key in self.data:
            if key in allowed:
                continue
            if key in INLINE_SECRETS:
                raise self.error(
                    key, "secrets may not be written in a target file",
                    f"remove it and use `{key}_env: VARIABLE` (an environment variable name) "
                    f"or `{key}_file: /path` (a file that holds it)",
                )
            where = f" {context}" if context else ""
            raise self.error(
                key, f"unknown key {key!r}{where}",
                f"{did_you_mean(key, allowed)}valid keys here: {', '.join(sorted(allowed))}",
            )

    def get(self, key: str, check: Callable[[object], T | None], expected: str,
            example: str) -> T:
        """``key``'s value as ``check`` returns it (``check`` returns None when wrong)."""
        if key not in self.data:
            where = f"under `{self.path}`" if self.path else "at the top level"
            raise self.error(key, "required key is missing", f"add `{key}: {example}` {where}")
        value = self.data[key]
        checked = check(value)
        if checked is None:
            raise self.error(key, f"expected {expected}, got {type_name(value)}",
                             f"write it like `{key}: {example}`")
        return checked

    def string(self, key: str, example: str) -> str:
        """A non-empty string."""
        return self.get(key, lambda v: v if isinstance(v, str) and v.strip() else None,
                        "a non-empty string", example)

    def matching(self, key: str, example: str, pattern: re.Pattern[str], what: str,
                 fix: str, value: str | None = None) -> str:
        """A string that ``pattern`` matches, else "... is not <what>" with ``fix``.

        ``value`` checks a value that is not at ``key`` (a mapping key, named by ``key``).
        """
        value = self.string(key, example) if value is None else value
        if not pattern.match(value):
            raise self.error(key, f"{value!r} is not {what}", fix)
        return value

    def integer(self, key: str, example: str, lo: int, hi: int) -> int:
        """A whole number in ``lo..hi``."""
        value = self.get(key, lambda v: v if isinstance(v, int) and not isinstance(v, bool)
                         else None, "a whole number", example)
        if not lo <= value <= hi:
            raise self.error(key, f"{value} is out of range", f"use a value from {lo} to {hi}")
        return value

    def number(self, key: str, example: str) -> float:
        """An integer or float (not a boolean)."""
        return self.get(key, lambda v: float(v) if isinstance(v, int | float)
                        and not isinstance(v, bool) else None, "a number", example)

    def boolean(self, key: str, default: bool) -> bool:
        """``true`` or ``false`` (YAML booleans, not strings); ``default`` if absent."""
        if key not in self.data:
            return default
        return self.get(key, lambda v: v if isinstance(v, bool) else None, "true or false",
                        "true")

    def file(self, key: str, example: str) -> Path | None:
        """An optional file path; ``~`` expanded, else as written (relative: to the CWD)."""
        return Path(self.string(key, example)).expanduser() if key in self.data else None

    def strings(self, key: str, example: str) -> list[str]:
        """A list of non-empty strings."""
        values = self.get(key, lambda v: v if isinstance(v, list) else None, "a list", example)
        for i, item in enumerate(values):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{key}[{i}]", f"expected a non-empty string, got "
                                 f"{type_name(item)}", f"write the list like `{key}: {example}`")
        return list(values)

    def items(self, key: str, example: str) -> Iterator[tuple[str, object]]:
        """(dotted path, value) of each element of the list at ``key`` (absent: none)."""
        if key not in self.data:
            return
        values = self.get(key, lambda v: v if isinstance(v, list) else None, "a list", example)
        for i, value in enumerate(values):
            yield join(join(self.path, key), i), value

    def url(self, key: str, example: str) -> str:
        """An http(s) URL with a host and no credentials; a trailing '/' is dropped."""
        text = self.string(key, example)
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise self.error(key, f"{text!r} is not a valid URL ({exc})",
                             f"write it like `{key}: {example}`") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.error(key, f"{text!r} is not an http:// or https:// URL with a host",
                             f"write it like `{key}: {example}`")
        if parts.username is not None or parts.password is not None:
            raise self.error(key, "credentials may not be written in a URL",
                             "remove the user:password@ part and use prometheus.auth "
                             "(with *_env or *_file)")
        if port == 0:
            raise self.error(key, f"{text!r} has port 0", "use the port the server listens on")
        return text.rstrip("/")

    def duration(self, key: str, example: str) -> float:
        """A Prometheus-style duration string, in seconds."""
        text = self.get(key, lambda v: v if isinstance(v, str) else None,
                        "a duration string", example)
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise self.error(key, f"{exc}", "write a positive duration such as 500ms, 1s, "
                             "2m or 1h30m (units: d, h, m, s, ms)") from None
