"""After an insert into a raw table, count what the table kept of it.

ClickHouse answers an insert without saying that the table dropped some of its rows (a
TTL that has already passed drops a row as it is written; its summary counts the row as
written). Every raw row carries the dedup token of the insert that wrote it (migration
0015), so one count per table and batch says whether all of them are there; a retried
insert that ClickHouse dropped as a duplicate finds the first attempt's rows. When some
are missing, the batch's events are looked up by id, and each one the table does not
hold becomes a dead letter with the reason, before the offsets are committed.
"""

from __future__ import annotations

import logging

import orjson

from meterstream_contracts.derived import DeadLetter
from meterstream_contracts.envelope import split_envelope
from meterstream_sink.processor import TableBatch
from meterstream_warehouse import Warehouse

log = logging.getLogger("meterstream_sink")


def rows_kept(warehouse: Warehouse, rows: TableBatch) -> int:
    """Rows of `rows.table` written under this batch's dedup token."""
    found = warehouse.query_rows(
        "SELECT count() AS n FROM {table:Identifier} WHERE insert_token = {token:String}",
        params={"table": rows.table, "token": rows.dedup_token},
    )
    return int(found[0]["n"])


def verify_stored(
    warehouse: Warehouse, rows: TableBatch, already: list[DeadLetter]
) -> list[DeadLetter]:
    """Dead letters for the events of `rows` that its table does not hold (none when the
    count under the batch's token is whole). `already` are the batch's dead letters so far:
    their events were never sent."""
    kept = rows_kept(warehouse, rows)
    if kept >= rows.rows:
        return []
    sent_elsewhere = {(d.source_topic, d.partition, d.offset, d.line) for d in already}
    reason = (
        f"{rows.table} kept {kept} of the {rows.rows} rows of its insert and not this one:"
        " ClickHouse dropped it as it was written (a TTL already past, or a table setting)"
    )
    sent: list[tuple[str, DeadLetter]] = []  # each event's id, and its letter if missing
    for message in rows.messages:
        for line, payload in enumerate(split_envelope(message.value)):
            place = (message.topic, message.partition, message.offset, line)
            if place not in sent_elsewhere:
                event_id = str(orjson.loads(payload).get("event_id", ""))
                sent.append((event_id, DeadLetter(
                    source_topic=message.topic, partition=message.partition,
                    offset=message.offset, line=line, reason=reason, payload=payload,
                )))  # fmt: skip
    held = {
        row["id"]
        for row in warehouse.query_rows(
            "SELECT DISTINCT toString(event_id) AS id FROM {table:Identifier}"
            " WHERE toString(event_id) IN {ids:Array(String)}",
            params={"table": rows.table, "ids": [event_id for event_id, _ in sent]},
        )
    }
    letters = [letter for event_id, letter in sent if event_id not in held]
    if letters:
        log.warning("%s: %d rows dropped on insert, dead-lettered", rows.table, len(letters))
    return letters
