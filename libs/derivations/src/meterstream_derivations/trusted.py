"""Reading an envelope a validating producer wrote (it carried ms-validated) straight into
the few fields a derivation uses, with msgspec: no contract model per event."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

import msgspec

from meterstream_contracts import envelope_as_array, split_envelope

T = TypeVar("T")

AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
"""A time a trusted decode accepts: with its offset (a naive one goes to the contract)."""


def decode_trusted(
    value: bytes, many: msgspec.json.Decoder[list[T]], one: msgspec.json.Decoder[T]
) -> list[T] | None:
    """The envelope's events in one call (its lines as one JSON array), else line by line
    (blank lines, a document over several lines); None when it does not hold what the mark
    promised, and the contract reads it then."""
    try:
        return many.decode(envelope_as_array(value))
    except msgspec.DecodeError:
        pass
    try:
        return [one.decode(line) for line in split_envelope(value)]
    except msgspec.DecodeError:
        return None
