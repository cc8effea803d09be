"""The ClickHouse sink: consume every topic of the catalogue, store batches, then commit.

Order per batch, always: route (validated envelopes as bytes) → insert each
table's rows → produce dead letters and wait for their acks → commit offsets.
A crash anywhere before the commit re-delivers the batch; insert dedup tokens
and ReplacingMergeTree keys keep the re-delivery from double counting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.producer import AIOKafkaProducer

from meterstream_contracts import TOPICS
from meterstream_contracts.envelope import VALIDATED_HEADER, VALIDATED_HEADER_VALUE
from meterstream_contracts.fields import DEFAULT_RETENTION_DAYS, RetentionWindow
from meterstream_kafka import KafkaConfig, apply_topics, make_producer, send_messages
from meterstream_sink.batch import Batch, BatchBuilder, BatchLimits, ConsumedMessage, PollSizer
from meterstream_sink.config import SinkConfig
from meterstream_sink.errors import SinkError
from meterstream_sink.faults import FaultPoints
from meterstream_sink.guard import DeadLetterGuard, DeadLetterLimits
from meterstream_sink.metrics import SinkMetrics
from meterstream_sink.poison import store_line_by_line
from meterstream_sink.processor import (
    ProcessedBatch,
    TableBatch,
    process_batch,
    revalidate,
)
from meterstream_sink.run_deletion import delete_runs_marked_deleted
from meterstream_sink.verify import verify_stored
from meterstream_warehouse import TABLES, RejectedBatch, RetriableWarehouseError, Warehouse

T = TypeVar("T")

log = logging.getLogger(__name__)


class StopRequested(SinkError):
    """Shutdown was asked for while the store was failing; the batch stays uncommitted."""


class _FlushOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: ClickHouseSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._sink.flush()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %d partitions", len(assigned))


def _is_validated(headers: object) -> bool:
    if not headers:
        return False
    return any(
        key == VALIDATED_HEADER and value == VALIDATED_HEADER_VALUE
        for key, value in headers  # type: ignore[attr-defined]
    )


class ClickHouseSink:
    """Moves records from every topic of the catalogue into their ClickHouse tables."""

    def __init__(
        self,
        *,
        config: SinkConfig,
        kafka: KafkaConfig,
        warehouse: Warehouse,
        metrics: SinkMetrics | None = None,
        raw_retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self._config = config
        self._retention_days = raw_retention_days
        self._kafka = kafka
        self._warehouse = warehouse
        self.metrics = metrics or SinkMetrics()
        self._builder = BatchBuilder(
            BatchLimits(config.max_batch_rows, config.max_batch_bytes, config.max_batch_seconds)
        )
        self._poll = PollSizer(
            max_bytes=config.poll_max_bytes, max_records=config.fetch_max_records
        )
        self._guard = DeadLetterGuard(
            DeadLetterLimits(
                config.max_consecutive_dead_letters,
                config.max_dead_letter_ratio,
                config.dead_letter_ratio_min_events,
            )
        )
        self._faults = FaultPoints(config.crash_point, after_batches=config.crash_after_batches)
        self._lock = asyncio.Lock()
        self._in_flight: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask `run` to flush what it holds, commit and return."""
        self._stopping.set()

    async def run(self) -> None:
        specs = tuple(TOPICS)
        await apply_topics(self._kafka, specs)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            client_id=f"{self._kafka.client_id}-sink",
            group_id=self._config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._config.session_timeout_ms,
            heartbeat_interval_ms=self._config.session_timeout_ms // 3,
            # While the store is down the loop waits instead of polling: stay in the group.
            max_poll_interval_ms=3_600_000,
            fetch_max_bytes=self._config.fetch_max_bytes,
            max_partition_fetch_bytes=self._config.partition_fetch_max_bytes,
            metadata_max_age_ms=self._kafka.metadata_max_age_ms,
        )
        self._consumer.subscribe([spec.name for spec in specs], listener=_FlushOnRevoke(self))
        self._producer = make_producer(self._kafka, client_id=f"{self._kafka.client_id}-sink-dlq")
        await self._producer.start()
        await self._consumer.start()
        log.info("sink consuming %d topics as group %s", len(specs), self._config.group_id)
        try:
            await self._consume_until_stopped()
            await self.flush()
        except StopRequested:
            log.warning("stopped while the store was failing; the open batch was not committed")
        finally:
            await self._consumer.stop()
            await self._producer.stop()

    async def _consume_until_stopped(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            if self._in_flight is not None and self._in_flight.done():
                self._in_flight.result()  # surface a failed store (e.g. the dead-letter limit)
            wait = self._builder.seconds_left(now=time.monotonic())
            records = await self._consumer.getmany(
                timeout_ms=max(1, int(wait * 1000)), max_records=self._poll.records()
            )
            taken = taken_bytes = 0
            for partition, messages in records.items():
                taken += len(messages)
                for message in messages:
                    taken_bytes += len(message.value or b"")
                    # Adding is synchronous, so a flush from a rebalance cannot interleave.
                    self._builder.add(
                        ConsumedMessage(
                            partition.topic,
                            partition.partition,
                            message.offset,
                            message.timestamp,
                            message.value or b"",
                            _is_validated(message.headers),
                        ),
                        now=time.monotonic(),
                    )
                    if self._builder.is_full():
                        await self._hand_over()
            self._poll.observe(taken, taken_bytes)
            if self._builder.is_due(now=time.monotonic()):
                await self._hand_over()

    async def _hand_over(self) -> None:
        """Start storing the current batch while the loop goes on fetching the next one.

        At most one batch is in flight: the next hand-over waits for it, so
        batches are stored and committed in order and memory stays bounded. A rebalance's
        flush may have taken the batch while this waited for the lock: then there is none.
        """
        async with self._lock:
            if self._in_flight is not None:
                await self._in_flight
            if self._builder.is_empty():
                return
            batch = self._builder.take()
            self._in_flight = asyncio.create_task(self._store_and_commit(batch))

    async def flush(self) -> None:
        """Finish the batch in flight, then store and commit what the builder holds.

        Called on revoke and on stop.
        """
        async with self._lock:
            if self._in_flight is not None:
                in_flight, self._in_flight = self._in_flight, None
                await in_flight
            if not self._builder.is_empty():
                await self._store_and_commit(self._builder.take())

    def _retention(self) -> RetentionWindow:
        return RetentionWindow.ending_now(self._retention_days)

    async def _store_and_commit(self, batch: Batch) -> None:
        self._faults.batch_started()
        processed = await asyncio.to_thread(process_batch, batch, self._guard, self._retention())
        self._faults.reached("before_insert")
        for rows in processed.tables.values():
            await self._store(rows, processed)
        self._faults.reached("after_insert")
        await self._send_dead_letters(processed)
        await self._commit(processed.offsets)
        self._faults.reached("after_commit")
        self.metrics.batches.inc()
        self.metrics.batch_rows.observe(processed.rows)

    async def _store(self, rows: TableBatch, processed: ProcessedBatch) -> None:
        try:
            await self._insert_with_retry(rows)
        except RejectedBatch as error:
            log.warning(
                "ClickHouse refused a batch for %s; validating each event: %s", rows.table, error
            )
            again, letters = await asyncio.to_thread(
                revalidate, rows, rows.messages, self._guard, self._retention()
            )
            processed.dead_letters.extend(letters)
            if not again.rows:
                return
            try:
                await self._insert_with_retry(again)
            except RejectedBatch:
                stored, more = await asyncio.to_thread(store_line_by_line, self._warehouse, again)
                processed.dead_letters.extend(more)
                self.metrics.rows_stored.labels(rows.table).inc(stored)
            rows = again
        if TABLES[rows.kind].has_retention:  # its TTL can drop rows as they are written
            lost = await self._until_reachable(
                f"verifying {rows.table}",
                lambda: verify_stored(self._warehouse, rows, processed.dead_letters),
            )
            processed.dead_letters.extend(lost)
        if rows.table == "training_runs":
            await asyncio.to_thread(delete_runs_marked_deleted, self._warehouse, rows)

    async def _insert_with_retry(self, rows: TableBatch) -> None:
        """Insert; while the store is unreachable, pause fetching and retry with backoff."""
        result = await self._until_reachable(
            f"insert into {rows.table}",
            lambda: self._warehouse.insert_json_rows(
                rows.table, rows.parts, dedup_token=rows.dedup_token
            ),
        )
        self.metrics.rows_stored.labels(rows.table).inc(result.rows)
        self.metrics.insert_seconds.labels(rows.table).observe(result.seconds)
        if rows.oldest_timestamp_ms is not None:
            lag = time.time() - rows.oldest_timestamp_ms / 1000
            self.metrics.freshness_seconds.observe(max(0.0, lag))

    async def _until_reachable(self, what: str, call: Callable[[], T]) -> T:
        """`call` in a thread; while the store is unreachable, pause fetching and retry it
        with backoff (an insert, and the read that verifies it)."""
        delay = self._config.retry_initial_s
        paused = False
        try:
            while True:
                try:
                    return await asyncio.to_thread(call)
                except RetriableWarehouseError as error:
                    if self._stopping.is_set():
                        raise StopRequested(str(error)) from error
                    if not paused and self._consumer is not None:
                        self._consumer.pause(*self._consumer.assignment())
                        paused = True
                    self.metrics.retries.inc()
                    log.warning("%s failed, retry in %.1fs: %s", what, delay, error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._config.retry_max_s)
        finally:
            if paused and self._consumer is not None:
                self._consumer.resume(*self._consumer.assignment())

    async def _send_dead_letters(self, processed: ProcessedBatch) -> None:
        if not processed.dead_letters or self._producer is None:
            return
        dlq = TOPICS.dead_letter
        messages = [
            (dlq.key_of(letter), letter.model_dump_json().encode())
            for letter in processed.dead_letters
        ]
        await send_messages(self._producer, dlq.name, messages, validated=True)
        for letter in processed.dead_letters:
            self.metrics.dead_letters.labels(letter.source_topic).inc()

    async def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        assert self._consumer is not None
        partitions = {TopicPartition(t, p): offset for (t, p), offset in offsets.items()}
        try:
            await self._consumer.commit(partitions)
        except CommitFailedError as error:
            # The partitions moved to another member; it re-reads this batch, and
            # the dedup tokens and replacing keys absorb the second write.
            log.warning("commit refused after a rebalance: %s", error)
            return
        for partition, offset in partitions.items():
            highwater = self._consumer.highwater(partition)
            if highwater is not None:
                self.metrics.lag.labels(partition.topic, str(partition.partition)).set(
                    max(0, highwater - offset)
                )
