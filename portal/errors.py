"""Domain errors raised by services; views and the API turn them into pages and error objects."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: `code` is stable (the API returns it), `message` is for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but clashes with the object's current state."""

    status = 409
    code = "conflict"


class Invalid(DomainError):
    """Well-formed input whose values break a rule; `fields` says which."""

    status = 422
    code = "invalid"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
