"""Reading a target file into a :class:`Target`, and writing a target document."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import TargetError
from ._model import API_VERSION, Target
from ._reader import line_of, read_yaml
from ._safe_yaml import read_document
from ._schema import parse_target

__all__ = ["dump_target", "load_target"]

_HEADER = f"""\
# chaosgate target ({API_VERSION}), written by chaosgate.
# Relative paths (state_dir, kubeconfig, *_file) are relative to the working directory.
"""


def load_target(path: str | Path) -> Target:
    """Read and validate the target file at ``path``.

    Reads that one file and nothing else (no network). Raises
    :class:`~chaosgate.exceptions.TargetError` for the first problem, its
    message located as ``file:line: field: problem. Fix: ...`` when the field
    (or its nearest parent) is in the file.
    """
    file = Path(path)
    text = read_document(file, "check the path; targets/sandbox.yaml describes the embedded "
                         "sandbox and targets/kubernetes.example.yaml is a starting point for "
                         "a cluster")
    data, lines = read_yaml(text, str(file))
    if data is None:
        raise TargetError(file, "", "the file is empty",
                          f"start it with `apiVersion: {API_VERSION}` and `kind: Target`")
    if not isinstance(data, Mapping):
        raise TargetError(file, "", "the top level is not a mapping",
                          f"start it with `apiVersion: {API_VERSION}` and `kind: Target`")
    try:
        return parse_target(data, str(file))
    except TargetError as exc:
        line = line_of(lines, exc.field)
        if line is None:
            raise
        located = TargetError(f"{file}:{line}", exc.field, exc.problem, exc.fix)
        located.path = str(file)
        raise located from None


def dump_target(doc: Mapping[str, Any], path: str | Path) -> Path:
    """Validate ``doc`` and write it to ``path`` as YAML, atomically; return the path.

    An invalid document raises :class:`~chaosgate.exceptions.TargetError` and
    writes nothing. Parent directories are created.
    """
    file = Path(path)
    parse_target(doc, str(file))
    text = _HEADER + yaml.safe_dump(_plain(doc), sort_keys=False, default_flow_style=False)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return file


def _plain(value: object) -> object:
    """Mappings and sequences turned into dicts and lists, for yaml.safe_dump."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
