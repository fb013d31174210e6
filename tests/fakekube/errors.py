"""The ``Status`` bodies the real API server sends with 4xx answers.

Shapes copied from what ``kube-apiserver`` returns (``kubectl -v=8`` shows
them), so that the official client raises the same ``ApiException``
subclasses with the same ``reason`` and ``message``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "invalid",
    "not_found",
    "uid_precondition_failed",
    "unknown_resource",
]


class ApiError(Exception):
    """A failed request: HTTP code, ``reason`` and the ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The ``Status`` object, exactly as the API server serialises it."""
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def _details(name: str, plural: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = plural
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    """404 for a missing object: ``pods "web-1" not found``."""
    return ApiError(404, "NotFound", f'{_qualified(plural, group)} "{name}" not found',
                    _details(name, plural, group))


def unknown_resource() -> ApiError:
    """404 for a path no resource serves (e.g. a CRD that is not installed)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """409 on create when the name is taken."""
    return ApiError(409, "AlreadyExists", f'{_qualified(plural, group)} "{name}" already exists',
                    _details(name, plural, group))


def conflict(plural: str, group: str, name: str) -> ApiError:
    """409 on a write whose ``metadata.resourceVersion`` is stale."""
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": '
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again", _details(name, plural, group))


def uid_precondition_failed(plural: str, group: str, name: str, wanted: str,
                            actual: str) -> ApiError:
    """409 on a delete whose ``preconditions.uid`` names another incarnation."""
    return ApiError(409, "Conflict",
                    f"Precondition failed: UID in precondition: {wanted}, "
                    f"UID in object meta: {actual}", _details(name, plural, group))


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 ``Invalid``; ``causes`` are (reason, field, message) triples."""
    what = f"{kind}.{group}" if group else kind
    text = ", ".join(f"{field}: {message}" for _, field, message in causes)
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return ApiError(422, "Invalid", f'{what} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    """400 BadRequest (unparsable body or selector)."""
    return ApiError(400, "BadRequest", message)
