"""Event ids: UUID version 4 shaped, unique, distinct across a fork; no I/O."""

from __future__ import annotations

import os
from uuid import UUID

from meterstream_sdk.ids import EventIds


def test_ids_are_version_4_uuids_in_canonical_form_and_unique() -> None:
    ids = EventIds()
    made = [ids.next() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    for text in made[:100] + made[-100:]:
        parsed = UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, "specified in RFC 4122")


def test_a_forked_child_does_not_repeat_its_parent_s_ids() -> None:
    ids = EventIds()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: send its next id and leave at once
        os.write(write, ids.next().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 64).decode()
    os.close(read)
    assert from_child != ids.next()
    assert from_child[:24] != ids.next()[:24]  # a new random prefix, not just a later count
