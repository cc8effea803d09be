"""Request bodies: gzip or zstd, JSON array or NDJSON, capped when decompressed. Pure."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Any

import jiter
import zstandard


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"decompressed body exceeds {limit} bytes")
        self.limit = limit


class BadBody(Exception):
    """Unsupported encoding, or not JSON at all."""


def decompress(body: bytes, encoding: str | None, *, limit: int) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise BodyTooLarge(limit)
        return body
    try:
        if encoding == "gzip":
            reader: Any = gzip.GzipFile(fileobj=io.BytesIO(body))
        elif encoding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body))
        elif encoding == "deflate":
            return _capped(zlib.decompressobj().decompress(body, limit + 1), limit)
        else:
            raise BadBody(f"unsupported Content-Encoding {encoding!r} (gzip, zstd or identity)")
        return _capped(reader.read(limit + 1), limit)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as error:
        raise BadBody(f"cannot decompress the body as {encoding}: {error}") from error


def _capped(data: bytes, limit: int) -> bytes:
    if len(data) > limit:
        raise BodyTooLarge(limit)
    return data


def split_items(body: bytes) -> list[bytes | Any]:
    """A JSON array's elements (already parsed), or NDJSON lines (still bytes)."""
    stripped = body.lstrip()
    if stripped.startswith(b"["):
        try:
            parsed = jiter.from_json(stripped, catch_duplicate_keys=True, cache_mode="keys")
        except ValueError as error:
            raise BadBody(
                f"the body starts as a JSON array but is not valid JSON: {error}"
            ) from error
        if not isinstance(parsed, list):
            raise BadBody("expected a JSON array or NDJSON")
        return list(parsed)
    return [line for line in body.split(b"\n") if line.strip()]
