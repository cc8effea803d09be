"""Dead letters an operator can use: a project's, listed and shown as they were sent, and
the bookkeeping that lets each be replayed to its topic at most once."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

from meterstream_query.errors import InvalidQuery
from meterstream_query.timerange import TimeRange
from meterstream_warehouse import Warehouse

POSITION: Final = re.compile(
    r"^(?P<topic>[A-Za-z0-9._-]+)\[(?P<partition>-?\d+)\]@(?P<offset>-?\d+)(?::(?P<line>\d+))?$"
)
"""`topic[partition]@offset:line`, as `dlq list` prints a dead letter's place."""
NO_LINE: Final = -1


@dataclass(frozen=True, slots=True)
class Place:
    topic: str
    partition: int
    offset: int
    line: int | None

    @classmethod
    def parse(cls, text: str) -> Place:
        found = POSITION.match(text.strip())
        if found is None:
            raise InvalidQuery("position", f"expected topic[partition]@offset:line, got {text!r}")
        line = found["line"]
        return cls(found["topic"], int(found["partition"]), int(found["offset"]),
                   None if line is None else int(line))  # fmt: skip

    def __str__(self) -> str:
        line = "" if self.line is None else f":{self.line}"
        return f"{self.topic}[{self.partition}]@{self.offset}{line}"

    @property
    def params(self) -> dict[str, Any]:
        line = NO_LINE if self.line is None else self.line
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                "line": line}  # fmt: skip


_WHERE_PLACE: Final = """source_topic = {topic:String} AND partition = {partition:Int32}
    AND offset = {offset:Int64} AND ifNull(toInt64(line), -1) = {line:Int64}"""


def _project_filter(project: str | None) -> str:
    return "project = {project:String}" if project is not None else "1"


def list_dead_letters(
    warehouse: Warehouse,
    *,
    project: str | None,
    time_range: TimeRange,
    topic: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest dead letters of `project` (None: every project's, for operators), with
    their place, reason and whether they were replayed."""
    rows = warehouse.query_rows(
        f"""
        SELECT d.time AS time, d.project AS project, d.source_topic AS topic,
               d.partition AS partition, d.offset AS offset, d.line AS line,
               d.reason AS reason, r.replayed_at AS replayed_at
        FROM (SELECT * FROM dead_letters FINAL
              WHERE {_project_filter(project)}
                AND time >= {{start:DateTime64(6, 'UTC')}} AND time < {{end:DateTime64(6, 'UTC')}}
                AND ({{topic:String}} = '' OR source_topic = {{topic:String}})) AS d
        LEFT JOIN (SELECT source_topic, partition, offset, line, max(replayed_at) AS replayed_at
                   FROM dead_letter_replays GROUP BY source_topic, partition, offset, line) AS r
          ON r.source_topic = d.source_topic AND r.partition = d.partition
         AND r.offset = d.offset AND r.line = ifNull(toInt64(d.line), -1)
        ORDER BY d.time DESC
        LIMIT {{limit:UInt32}}
        """,
        params={
            "project": project or "",
            "topic": topic or "",
            "limit": limit,
            **time_range.bounds,
        },
    )
    for row in rows:
        place = Place(row.pop("topic"), int(row.pop("partition")), int(row.pop("offset")),
                      row.pop("line"))  # fmt: skip
        row["position"] = str(place)
        if str(row.get("replayed_at", "")).startswith("1970-01-01"):
            row["replayed_at"] = None  # the join's default: never replayed
    return [{k: row[k] for k in ("time", "position", "project", "reason", "replayed_at")}
            for row in rows]  # fmt: skip


def show_dead_letter(
    warehouse: Warehouse, *, project: str | None, place: Place
) -> dict[str, Any] | None:
    """One dead letter: its reason and its payload as it was sent (the text, or base64
    when the bytes are not UTF-8)."""
    rows = warehouse.query_rows(
        f"""
        SELECT time, project, reason, payload, payload_text FROM dead_letters FINAL
        WHERE {_WHERE_PLACE} AND {_project_filter(project)}
        LIMIT 1
        """,
        params={**place.params, "project": project or ""},
    )
    if not rows:
        return None
    row = rows[0]
    return {
        "position": str(place),
        "time": row["time"],
        "project": row["project"],
        "reason": row["reason"],
        "payload": row["payload_text"] if row["payload_text"] is not None else None,
        "payload_base64": row["payload"],
    }


def payload_bytes(letter: dict[str, Any]) -> bytes:
    return base64.b64decode(letter["payload_base64"])


def replayed(warehouse: Warehouse, place: Place) -> bool:
    rows = warehouse.query_rows(
        f"SELECT count() AS n FROM dead_letter_replays FINAL WHERE {_WHERE_PLACE}",
        params=place.params,
    )
    return int(rows[0]["n"]) > 0


def mark_replayed(warehouse: Warehouse, place: Place, *, by: str) -> None:
    """Record that `place` went back to its topic (checked before any replay of it)."""
    row = {"source_topic": place.topic, "partition": place.partition, "offset": place.offset,
           "line": NO_LINE if place.line is None else place.line, "replayed_by": by}  # fmt: skip
    warehouse.insert_json_rows("dead_letter_replays", orjson.dumps(row))
