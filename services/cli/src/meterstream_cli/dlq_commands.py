"""`meterstream dlq`: read a project's dead letters as they were sent, and send chosen
ones back to their topic once the cause is fixed (each at most once)."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated, NoReturn

import orjson
import typer
from rich.console import Console

from meterstream_cli.query_commands import AsJson, Last, _show, _warehouse
from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, make_producer, send_messages
from meterstream_query.dead_letters import (
    Place,
    list_dead_letters,
    mark_replayed,
    payload_bytes,
    replayed,
    show_dead_letter,
)
from meterstream_query.errors import InvalidQuery
from meterstream_query.timerange import TimeRange

dlq_app = typer.Typer(help="Dead letters: list, show as sent, replay once the cause is fixed.")
console = Console()
AnyProject = Annotated[
    str | None, typer.Option(help="Only this project's dead letters (default: every project's).")
]


@dlq_app.command("list")
def list_command(
    project: AnyProject = None,
    last: Last = "24h",
    topic: Annotated[str | None, typer.Option(help="Only this source topic.")] = None,
    limit: int = 100,
    as_json: AsJson = False,
) -> None:
    """The newest dead letters: when, where (topic\\[partition]@offset:line), why, replayed."""
    with _warehouse() as warehouse:
        rows = list_dead_letters(
            warehouse, project=project, time_range=TimeRange.last(last), topic=topic, limit=limit
        )
    _show(rows, title="dead letters", as_json=as_json)


@dlq_app.command("show")
def show_command(position: str, project: AnyProject = None) -> None:
    """One dead letter: its reason, and its payload exactly as it was sent."""
    with _warehouse() as warehouse:
        letter = show_dead_letter(warehouse, project=project, place=_place(position))
    if letter is None:
        console.print(f"[red]no dead letter at {position}[/]")
        raise typer.Exit(1)
    console.print(f"{letter['position']}  {letter['time']}  project {letter['project']!r}")
    console.print(f"reason: {letter['reason']}", markup=False)
    if letter["payload"] is not None:
        print(letter["payload"])
    else:
        print(f"(not UTF-8; base64) {letter['payload_base64']}")


@dlq_app.command("replay")
def replay_command(
    positions: Annotated[list[str], typer.Argument(help="topic\\[partition]@offset:line ...")],
    project: AnyProject = None,
    dry_run: bool = False,
) -> None:
    """Send dead letters back to their raw topic, as they were sent, after the cause was
    fixed. Each goes back at most once: a replayed one is refused the second time."""
    places = [_place(text) for text in positions]
    sends: list[tuple[Place, bytes, bytes]] = []
    with _warehouse() as warehouse:
        for place in places:
            spec = next((each for each in TOPICS if each.name == place.topic), None)
            if spec is None or spec.role != "raw":
                _fail(f"{place}: only events of a raw topic can be replayed")
            if replayed(warehouse, place):
                _fail(f"{place}: replayed already (each dead letter goes back at most once)")
            letter = show_dead_letter(warehouse, project=project, place=place)
            if letter is None:
                _fail(f"{place}: no such dead letter")
            payload = payload_bytes(letter)
            try:
                record = orjson.loads(payload)
            except orjson.JSONDecodeError:
                record = {}
            key = spec.key_of(record if isinstance(record, dict) else {})
            sends.append((place, key, payload))
        if dry_run:
            for place, _, payload in sends:
                console.print(f"would replay {place}: {len(payload)} bytes", markup=False)
            return
        asyncio.run(_send(sends))
        for place, _, _ in sends:
            mark_replayed(warehouse, place, by=getpass.getuser())
            console.print(f"replayed {place}", markup=False)


async def _send(sends: list[tuple[Place, bytes, bytes]]) -> None:
    producer = make_producer(KafkaConfig(), client_id="meterstream-dlq-replay")
    await producer.start()
    try:
        for place, key, payload in sends:
            await send_messages(producer, place.topic, [(key, payload)])
    finally:
        await producer.stop()


def _place(text: str) -> Place:
    try:
        return Place.parse(text)
    except InvalidQuery as error:
        _fail(str(error))


def _fail(message: str) -> NoReturn:
    console.print(f"[red]{message}[/]", markup=True)
    raise typer.Exit(2)
