"""The sink's fast path into raw_completions, in Rust: `completion_rows` re-encodes the
contract's completion JSON as ClickHouse RowBinary rows of `COMPLETION_COLUMNS`, or refuses
the whole payload (ValueError) when any document is not one it can encode exactly; the
JSON then goes to ClickHouse as it is."""

from meterstream_rowbinary_native._native import COMPLETION_COLUMNS, completion_rows

__all__ = ["COMPLETION_COLUMNS", "completion_rows"]
