"""Bounded reading of the YAML files chaosgate is given (targets, SLO catalogues).

A file chaosgate reads is untrusted input: a few hundred bytes of YAML
aliases ("billion laughs") expand to gigabytes, a self-referencing anchor or
deep nesting recurses without end, and a FIFO blocks a reader forever. This
module puts a limit on each of these; every limit is reported as a
:class:`~chaosgate.exceptions.TargetError` (exit code 2) naming the file, the
line when known, the problem and the fix.

- :func:`read_document` reads a regular file of at most :data:`MAX_FILE_BYTES`
  bytes of UTF-8 without NUL bytes, never blocking on a FIFO or device.
- :class:`SafeLoader` is PyYAML's safe loader with limits on aliases
  (:data:`MAX_ALIASES`) and nesting (:data:`MAX_DEPTH`) while composing.
- :func:`check_node` bounds the composed document once aliases are expanded:
  no cycles, at most :data:`MAX_NODES` nodes, :data:`MAX_DEPTH` levels and
  :data:`MAX_SCALAR_CHARS` characters per scalar, all computed without
  expanding anything.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..exceptions import TargetError

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_SCALAR_CHARS",
    "Budget",
    "SafeLoader",
    "check_node",
    "read_document",
]

#: Largest file read (1 MiB): real targets and catalogues are a few KiB.
MAX_FILE_BYTES = 1024 * 1024
#: Alias nodes (``*name``) per document.
MAX_ALIASES = 100
#: Nodes of a document with every alias expanded (each alias counts its whole subtree).
MAX_NODES = 100_000
#: Nesting levels of mappings and lists (with aliases expanded).
MAX_DEPTH = 64
#: Characters of one scalar (a name, a query, ...): 64 KiB.
MAX_SCALAR_CHARS = 64 * 1024

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_REGULAR_FIX = "name a regular file (copy the content into one if needed)"


def _not_regular(file: Path, mode: int) -> TargetError:
    if stat.S_ISDIR(mode):
        return TargetError(file, "", "is a folder, not a file", "name a YAML file, not a folder")
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return TargetError(file, "", f"is {kind}, not a regular file", _REGULAR_FIX)


def _too_large(file: Path) -> TargetError:
    return TargetError(file, "", f"is larger than {MAX_FILE_BYTES // 1024} KiB",
                       "a target or SLO catalogue is a few KiB: name the right file, or split it")


def read_document(path: str | Path, missing_fix: str = "check the path") -> str:
    """The text of the YAML file at ``path``: bounded, strict UTF-8, no NUL bytes.

    Only a regular file is read (checked before opening, and again on the
    open descriptor; it is opened non-blocking so a FIFO swapped in cannot
    hang). ``missing_fix`` is the fix given when the file does not exist.
    Raises :class:`TargetError` for anything else.
    """
    file = Path(path)
    try:
        mode = os.stat(file).st_mode
    except FileNotFoundError:
        raise TargetError(file, "", "file not found", missing_fix) from None
    except OSError as exc:
        raise TargetError(file, "", f"cannot read it: {exc.strerror or exc}",
                          "check the path and its permissions") from None
    if not stat.S_ISREG(mode):
        raise _not_regular(file, mode)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(file, flags)
    except OSError as exc:
        raise TargetError(file, "", f"cannot read it: {exc.strerror or exc}",
                          "check the path and its permissions") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(file, info.st_mode)
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(file)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise TargetError(file, "", f"cannot read it: {exc.strerror or exc}",
                          "check that it is a readable file") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise _too_large(file)
    data = b"".join(chunks)
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise TargetError(file, "", f"line {line}: a NUL byte (at byte {nul}): this is not a "
                          "text file", "name the YAML file; save it as plain UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TargetError(file, "", f"line {line}: not UTF-8 text ({exc.reason} at byte "
                          f"{exc.start})", "save the file as UTF-8") from None


@dataclass
class Budget:
    """Aliases composed and nodes converted so far, for the documents of one file."""

    aliases: int = 0
    nodes: int = 0


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python tags), limiting aliases and nesting while composing.

    PyYAML's composer recurses once per nesting level; the depth limit stops
    it long before Python's recursion limit.
    """

    def __init__(self, stream: str, source: str, budget: Budget) -> None:
        super().__init__(stream)
        self.source = source
        self.budget = budget
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.AliasEvent):
            self.budget.aliases += 1
            if self.budget.aliases > MAX_ALIASES:
                raise _limit(self.source, line, f"more than {MAX_ALIASES} YAML aliases (*name)",
                             f"YAML aliases are limited to {MAX_ALIASES} per file: write the "
                             "values out")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _deep(self.source, line)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _limit(source: str, line: int | None, problem: str, fix: str) -> TargetError:
    return TargetError(source, "", f"line {line}: {problem}" if line else problem, fix)


def _deep(source: str, line: int | None) -> TargetError:
    return _limit(source, line, f"nested too deeply (more than {MAX_DEPTH} levels)",
                  "flatten the structure; a target or catalogue needs a few levels")


def check_node(node: yaml.Node, source: str) -> int:
    """The number of nodes of ``node`` with every alias expanded, checked against the limits.

    Computed without expanding: each distinct node's expanded size and
    height is worked out once and reused wherever an alias repeats it.
    Raises :class:`TargetError` for a cycle (an anchor used inside itself),
    more than :data:`MAX_NODES` nodes, more than :data:`MAX_DEPTH` levels or a
    scalar longer than :data:`MAX_SCALAR_CHARS`.
    """
    known: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    on_path: set[int] = set()

    def visit(current: yaml.Node, depth: int) -> tuple[int, int]:
        line = current.start_mark.line + 1
        if depth > MAX_DEPTH:
            raise _deep(source, line)
        key = id(current)
        if key in known:
            if depth + known[key][1] > MAX_DEPTH:
                raise _deep(source, line)
            return known[key]
        if key in on_path:
            raise _limit(source, line, "a YAML anchor (&name) is used inside itself",
                         "write the value out instead of the alias (*name) that refers back "
                         "to its own anchor")
        if isinstance(current, yaml.ScalarNode):
            if len(current.value) > MAX_SCALAR_CHARS:
                raise _limit(source, line, f"a value longer than {MAX_SCALAR_CHARS // 1024} KiB",
                             "shorten it; names, URLs and queries are short")
            known[key] = (1, 0)
            return known[key]
        children: list[yaml.Node] = []
        if isinstance(current, yaml.MappingNode):
            for k, v in current.value:
                children += (k, v)
        elif isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        on_path.add(key)
        size, height = 1, 0
        for child in children:
            child_size, child_height = visit(child, depth + 1)
            size += child_size
            height = max(height, child_height + 1)
            if size > MAX_NODES:
                raise _limit(source, line, f"more than {MAX_NODES} values once its YAML aliases "
                             "(*name) are expanded",
                             "write the values out without aliases that repeat aliases")
        on_path.discard(key)
        if height > MAX_DEPTH:
            raise _deep(source, line)
        known[key] = (size, height)
        return known[key]

    return visit(node, 0)[0]
