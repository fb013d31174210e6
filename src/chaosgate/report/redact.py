"""Secrets never appear in any artifact (docs/architecture.md §7).

Every text that goes into a report (attachments, environment values,
messages, the summary page) passes through :func:`redact_text`;
structured data (journals, mappings) through :func:`redact_obj`. What is
masked, with ``***``:

- values of keys that look secret (``password``, ``passwd``, ``pwd``,
  ``secret``, ``token``, ``authorization``, ``api_key``, ``access_key``,
  ``private_key``, ``credential``, ``cookie``, ``session_id``), written as
  ``key=value``, ``key: value``, ``"key": "value"``, ``--key value`` or as
  query parameters;
- ``Bearer``/``Basic`` credentials (an ``Authorization`` header or not);
- URL userinfo (``https://user:pass@host`` -> ``https://***@host``);
- well-known token shapes: JSON web tokens, GitHub tokens, AWS access key ids.

Pure functions; idempotent (redacting twice changes nothing more).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "is_secret_key", "redact_mapping", "redact_obj", "redact_text"]

MASK = "***"

_SECRET_WORDS = (
    r"pass(?:word|wd|phrase)|pwd|secret|token|authorization|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|client[_-]?secret|credentials?|cookie|session[_-]?id"
)
# "pass" alone only as a whole word part (so "passed" or "bypass_cache" are not secrets).
_SECRET_KEY = re.compile(rf"(?i)(?:{_SECRET_WORDS})s?(?![a-z])|(?<![a-z])pass(?![a-z])")

_KEY = r"[A-Za-z_][\w.\-]*"
# "key": "value"  /  'key': 'value'  /  key="value"
_QUOTED = re.compile(
    rf"""(?P<kq>["']?)(?P<key>{_KEY})(?P=kq)(?P<sep>\s*[:=]\s*)(?P<q>["'])(?P<val>(?:\\.|(?!(?P=q)).)*)(?P=q)"""
)
# key=value / key: value (unquoted, up to a delimiter); also URL query parameters.
_UNQUOTED = re.compile(rf"""(?P<key>{_KEY})(?P<sep>[ \t]*[:=][ \t]*)(?P<val>[^\s"',;&)}}\]]+)""")
# --password value
_FLAG = re.compile(rf"""(?<!\S)(?P<key>--?{_KEY})(?P<sep>[ \t]+)(?P<val>[^\s"'-][^\s"']*)""")
_HEADER = re.compile(r"(?im)^(?P<key>[ \t]*(?:proxy-)?authorization[ \t]*:[ \t]*)(?P<val>\S.*)$")
_BEARER = re.compile(r"\b(?P<scheme>(?i:bearer))(?P<sep>\s+)(?P<val>[A-Za-z0-9\-._~+/]+=*)")
# Basic credentials are base64: at least 8 characters and not a plain lowercase word.
_BASIC = re.compile(r"\b(?P<scheme>(?i:basic))(?P<sep>\s+)(?P<val>(?![a-z]+\b)[A-Za-z0-9+/]{8,}=*)")
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<val>[^/\s@\"'<>]+)@")
_TOKEN_SHAPES = re.compile(
    r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"  # JWT
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|\bgithub_pat_[A-Za-z0-9_]{30,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
)


def is_secret_key(key: str) -> bool:
    """Whether a key (a header, an option, an environment variable) names a secret."""
    return bool(_SECRET_KEY.search(key))


def _mask_keyed(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("key")) or match.group("val") == MASK:
        return match.group(0)
    start, end = match.span("val")
    whole = match.group(0)
    base = match.start(0)
    return whole[: start - base] + MASK + whole[end - base :]


def redact_text(text: str) -> str:
    """``text`` with every secret this module recognises replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _HEADER.sub(lambda m: m.group("key") + MASK, text)
    for scheme in (_BEARER, _BASIC):
        text = scheme.sub(lambda m: f"{m.group('scheme')}{m.group('sep')}{MASK}", text)
    text = _QUOTED.sub(_mask_keyed, text)
    text = _UNQUOTED.sub(_mask_keyed, text)
    text = _FLAG.sub(_mask_keyed, text)
    return _TOKEN_SHAPES.sub(MASK, text)


def redact_mapping(values: Mapping[str, Any]) -> dict[str, str]:
    """A flat mapping as strings: secret keys masked, every value redacted."""
    return {
        str(k): MASK if is_secret_key(str(k)) else redact_text(str(v)) for k, v in values.items()
    }


def redact_obj(obj: Any) -> Any:
    """A JSON-like structure (dicts, lists, scalars) with secrets masked.

    The value of a secret-looking key is masked whatever its type (a nested
    ``{"type": "env", "key": "TOKEN"}`` reference included: it is not
    needed in a report); strings anywhere are redacted as text.
    """
    if isinstance(obj, Mapping):
        return {
            k: MASK if isinstance(k, str) and is_secret_key(k) and obj[k] not in (None, "")
            else redact_obj(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj
