"""Arguments and input fields the contract declares without a default are ``UNSET`` when a
client leaves them out; resolvers treat that exactly like an explicit null."""

from __future__ import annotations

from typing import TypeVar

from strawberry.types.unset import UnsetType

T = TypeVar("T")


def given(value: T | UnsetType | None) -> T | None:
    return None if value is None or isinstance(value, UnsetType) else value
