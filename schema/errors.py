"""Expected failures, each with the ``extensions.code`` the frontend switches on (PRODUCT.md §4).

Resolvers raise these; ``schema.error_codes.ErrorCodes`` turns every error of a result into
one carrying a code, and anything that is not an ``ApiError`` into a generic INTERNAL one.
Messages of these errors are shown to clients as they are: never put a record that the
caller may not see, a token or a stack trace in one.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL = "INTERNAL"


INTERNAL_MESSAGE = "Internal server error"


class ApiError(Exception):
    """An error whose message is safe to show, with its code."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(ApiError):
    code = ErrorCode.UNAUTHENTICATED

    def __init__(self, message: str = "Authentication required: send a valid bearer token") -> None:
        super().__init__(message)


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN

    def __init__(self, message: str = "You are not allowed to do this") -> None:
        super().__init__(message)


class BadUserInput(ApiError):
    code = ErrorCode.BAD_USER_INPUT


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND


class Unavailable(ApiError):
    """An expected INTERNAL condition (a service this process lacks) with a safe message."""

    code = ErrorCode.INTERNAL


def check_range(name: str, value: int, low: int, high: int) -> int:
    """Validate a numeric argument such as ``first``; BAD_USER_INPUT outside ``low..high``."""
    if not low <= value <= high:
        raise BadUserInput(f"{name} must be between {low} and {high}")
    return value
