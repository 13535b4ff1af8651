"""Domain errors raised by services; the API's exception handler maps each to a JSON 4xx with a stable code."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_detail = "The request is not valid."

    def __init__(self, detail: str | None = None, *, code: str | None = None, extra: dict | None = None):
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        self.extra = extra or {}
        super().__init__(self.detail)

    def as_dict(self) -> dict:
        return {"detail": self.detail, "code": self.code, **self.extra}


class Invalid(DomainError):
    status_code = 400
    code = "invalid"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    default_detail = "You may not do this."


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_detail = "Not found."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_detail = "This conflicts with an existing record."


class RuleViolation(DomainError):
    status_code = 422
    code = "rule_violation"
    default_detail = "A booking rule was broken."


class Throttled(DomainError):
    status_code = 429
    code = "throttled"
    default_detail = "Too many attempts; try again later."


class Unauthenticated(DomainError):
    status_code = 401
    code = "authentication_failed"
    default_detail = "Wrong username or password."
