"""Kubernetes-style label selectors, parsed and matched with no I/O.

The grammar is the one ``kubectl -l`` accepts::

    app=api,tier=backend         equality (``==`` is the same as ``=``)
    app!=api                     inequality (also true when the label is absent)
    app in (api,worker)          set membership
    app notin (api)              set exclusion (also true when the label is absent)
    app                          the label exists
    !app                         the label does not exist

Requirements are ANDed. An empty selector is refused: it would select every
pod, which is never what a fault means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..exceptions import UsageError

__all__ = ["Operator", "Requirement", "Selector", "SelectorError"]

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_KEY = rf"(?:{_PREFIX}/)?{_NAME}"
_VALUE = rf"(?:{_NAME})?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")
_NOT_EXISTS = re.compile(r"^!\s*(?P<key>\S+)$")
_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_BINARY = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


class SelectorError(UsageError, ValueError):
    """A label selector that does not parse. The message says where and why."""


@dataclass(frozen=True, order=True)
class Requirement:
    """One ANDed term of a selector: ``key``, an operator and its values."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod with ``labels`` satisfies this term (Kubernetes semantics)."""
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" also hold when the label is absent, as in Kubernetes.
        return not present or labels[self.key] not in self.values

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("=", "!="):
            return f"{self.key}{self.operator}{self.values[0]}"
        return f"{self.key} {self.operator} ({','.join(self.values)})"


_K8S_OPERATORS = {"in": "In", "notin": "NotIn", "exists": "Exists", "!": "DoesNotExist"}


@dataclass(frozen=True)
class Selector:
    """A parsed label selector: requirements sorted and de-duplicated.

    Two selectors are equal when they have the same requirements, whatever
    their spelling (order, spaces, ``=`` or ``==``). ``str()`` gives the
    canonical form, which ``kubectl`` and the Kubernetes API accept.
    """

    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse ``text``; raise :class:`SelectorError` naming the bad term."""
        if not isinstance(text, str):
            raise SelectorError(f"a label selector must be a string, not {type(text).__name__}")
        terms = _split_terms(text)
        return cls.of(_parse_term(term, text) for term in terms)

    @classmethod
    def of(cls, requirements: Iterable[Requirement]) -> Selector:
        """Build a selector from requirements (sorted, duplicates dropped)."""
        reqs = tuple(sorted(set(requirements)))
        if not reqs:
            raise SelectorError(
                "an empty label selector would select every pod; name at least one label, "
                "e.g. app=api"
            )
        return cls(reqs)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod with ``labels`` is selected (every requirement holds)."""
        return all(r.matches(labels) for r in self.requirements)

    def narrows(self, other: Selector) -> bool:
        """True when every requirement of ``other`` is also one of this selector's.

        Then whatever this selector selects, ``other`` selects too.
        """
        return set(other.requirements) <= set(self.requirements)

    @property
    def equalities(self) -> dict[str, str]:
        """The ``key=value`` requirements as a dict (Kubernetes ``matchLabels``)."""
        return {r.key: r.values[0] for r in self.requirements if r.operator == "="}

    def to_kubernetes(self) -> dict[str, object]:
        """The selector as a Kubernetes ``LabelSelector`` (matchLabels/matchExpressions)."""
        expressions: list[dict[str, object]] = []
        for r in self.requirements:
            if r.operator == "=":
                continue
            if r.operator == "!=":
                expressions.append({"key": r.key, "operator": "NotIn", "values": list(r.values)})
            elif r.operator in ("exists", "!"):
                expressions.append({"key": r.key, "operator": _K8S_OPERATORS[r.operator]})
            else:
                expressions.append(
                    {"key": r.key, "operator": _K8S_OPERATORS[r.operator], "values": list(r.values)}
                )
        result: dict[str, object] = {}
        if self.equalities:
            result["matchLabels"] = self.equalities
        if expressions:
            result["matchExpressions"] = expressions
        return result

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"Selector({str(self)!r})"


def _split_terms(text: str) -> list[str]:
    """Split on the commas that are not inside ``( )``."""
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
            if depth > 1:
                raise SelectorError(f"nested parentheses in label selector {text!r}")
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced ')' in label selector {text!r}")
        if char == "," and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth:
        raise SelectorError(f"unclosed '(' in label selector {text!r}")
    terms.append("".join(current).strip())
    if terms == [""]:
        return []
    if "" in terms:
        raise SelectorError(f"empty term (stray comma) in label selector {text!r}")
    return terms


def _parse_term(term: str, text: str) -> Requirement:
    if m := _NOT_EXISTS.match(term):
        return Requirement(_key(m["key"], text), "!")
    if m := _SET.match(term):
        values = [v.strip() for v in m["values"].split(",")]
        if "" in values:
            raise SelectorError(f"{term!r} in label selector {text!r} has an empty value; "
                                "list one or more values, e.g. app in (api,worker)")
        op: Operator = "in" if m["op"] == "in" else "notin"
        checked = sorted({_value(v, text) for v in values})
        return Requirement(_key(m["key"], text), op, tuple(checked))
    if m := _BINARY.match(term):
        op = "!=" if m["op"] == "!=" else "="
        return Requirement(_key(m["key"], text), op, (_value(m["value"], text),))
    if _KEY_RE.match(term):
        return Requirement(term, "exists")
    raise SelectorError(
        f"cannot parse {term!r} in label selector {text!r}; use key=value, key!=value, "
        "key in (a,b), key notin (a,b), key or !key"
    )


def _key(key: str, text: str) -> str:
    if not _KEY_RE.match(key) or len(key.rpartition("/")[2]) > 63 or len(key) > 317:
        raise SelectorError(
            f"{key!r} in label selector {text!r} is not a valid label key "
            "(letters, digits, '-', '_', '.', at most 63, optional 'prefix/')"
        )
    return key


def _value(value: str, text: str) -> str:
    if not _VALUE_RE.match(value) or len(value) > 63:
        raise SelectorError(
            f"{value!r} in label selector {text!r} is not a valid label value "
            "(letters, digits, '-', '_', '.', at most 63, starting and ending alphanumeric)"
        )
    return value
