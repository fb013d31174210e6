"""Label selectors as the API server reads them, written apart from chaosgate's.

The fake must not share code with what it tests: a bug in
:mod:`chaosgate.targets` would otherwise agree with itself. Two forms:

- the query string form (``?labelSelector=app=a,tier in (x,y),!canary``);
- the object form (``{"matchLabels": ..., "matchExpressions": [...]}``)
  used in Deployments, NetworkPolicies and Chaos Mesh selectors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["LabelSelectorError", "match_object_selector", "match_query", "valid_label_key",
           "valid_label_value"]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY_RE = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
_VALUE_RE = re.compile(rf"^({_NAME})?$")


class LabelSelectorError(ValueError):
    """A selector the real API server would refuse with 400 Bad Request."""


def valid_label_key(key: str) -> bool:
    """Whether ``key`` is a valid label key (optional DNS prefix, 63-char name)."""
    return bool(_KEY_RE.match(key)) and len(key.rpartition("/")[2]) <= 63


def valid_label_value(value: str) -> bool:
    """Whether ``value`` is a valid label value (empty allowed, at most 63 chars)."""
    return bool(_VALUE_RE.match(value)) and len(value) <= 63


def _split(text: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    return [t for t in terms if t]


def _term(term: str) -> tuple[str, str, list[str]]:
    if m := re.fullmatch(r"(\S+)\s+(in|notin)\s*\(([^()]*)\)", term):
        return m[1], m[2], [v.strip() for v in m[3].split(",")]
    if m := re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(\S*)", term):
        return m[1], "!=" if m[2] == "!=" else "=", [m[3]]
    if m := re.fullmatch(r"!\s*(\S+)", term):
        return m[1], "!", []
    return term, "exists", []


def match_query(selector: str, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a ``labelSelector`` query string (empty: everything)."""
    for term in _split(selector):
        key, op, values = _term(term)
        if not valid_label_key(key) or not all(valid_label_value(v) for v in values):
            raise LabelSelectorError(f"unable to parse requirement: {term!r}")
        present = key in labels
        if op in ("=", "in") and not (present and labels[key] in values):
            return False
        if op in ("!=", "notin") and present and labels[key] in values:
            return False
        if (op == "exists" and not present) or (op == "!" and present):
            return False
    return True


def match_object_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a LabelSelector object (``{}`` selects everything)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True
