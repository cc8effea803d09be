"""The query layer's errors: each says which argument was wrong and why."""

from __future__ import annotations


class QueryError(Exception):
    """Root of the query layer's errors."""


class InvalidQuery(QueryError):
    """An argument is out of its domain; `field` names it (the HTTP API answers 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(QueryError):
    """The run, key or table asked for does not exist in the caller's project."""
