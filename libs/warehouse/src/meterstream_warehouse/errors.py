"""Errors of the warehouse package; every one derives from `WarehouseError`."""

from __future__ import annotations


class WarehouseError(Exception):
    """Root of the errors raised by meterstream_warehouse."""


class RetriableWarehouseError(WarehouseError):
    """The store could not be reached or was overloaded: retry the same batch later."""


class RejectedBatch(WarehouseError):
    """ClickHouse refused the data itself: split the batch to find the poison events."""


class LocalServerError(WarehouseError):
    """The local ClickHouse server process could not be started or stopped."""


class MigrationError(WarehouseError):
    """A migration failed, or an applied migration's file changed since it ran."""


# ClickHouse error codes that mean "this data is wrong", not "try again later".
_DATA_ERROR_CODES = frozenset(
    {6, 25, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 349, 376, 377, 469, 1001}
)


def clickhouse_error_code(message: str) -> int | None:
    """The numeric code in a ClickHouse exception text (`Code: 376. DB::Exception...`)."""
    marker = "Code: "
    start = message.find(marker)
    if start < 0:
        return None
    digits = ""
    for char in message[start + len(marker) :]:
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits else None


def classify_insert_error(message: str) -> WarehouseError:
    """A data error rejects the batch; anything else is worth retrying."""
    code = clickhouse_error_code(message)
    if code in _DATA_ERROR_CODES:
        return RejectedBatch(message)
    return RetriableWarehouseError(message)
