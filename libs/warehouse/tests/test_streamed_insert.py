"""How an insert given as pieces is cut into the chunks sent over HTTP; no I/O."""

from __future__ import annotations

from meterstream_warehouse.server_backend import _chunks


def test_small_pieces_are_joined_up_to_the_chunk_size() -> None:
    pieces = [b"a" * 40, b"\n"] * 10
    chunks = list(_chunks(pieces, size=100))
    assert b"".join(chunks) == b"".join(pieces)
    assert all(len(chunk) >= 100 for chunk in chunks[:-1])
    assert len(chunks) == 4  # 3 of 123 bytes, then the 41 left


def test_a_large_piece_goes_out_whole_and_in_order() -> None:
    pieces = [b"x\n", b"L" * 500, b"\n", b"y"]
    chunks = list(_chunks(pieces, size=100))
    assert chunks == [b"x\n", b"L" * 500, b"\ny"]


def test_nothing_to_send_is_no_chunk() -> None:
    assert list(_chunks([], size=100)) == []
