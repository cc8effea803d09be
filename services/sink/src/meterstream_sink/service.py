"""The ClickHouse sink: consume raw topics, store batches, then commit.

Order per batch, always: validate → insert each table's rows → produce dead
letters and wait for their acks → commit offsets. A crash anywhere before the
commit re-delivers the batch; dedup tokens and ReplacingMergeTree keys keep
the re-delivery from double counting.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.producer import AIOKafkaProducer

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, apply_topics, make_producer, send_messages
from meterstream_sink.batch import BatchBuilder, BatchLimits, ConsumedMessage
from meterstream_sink.config import SinkConfig
from meterstream_sink.metrics import SinkMetrics
from meterstream_sink.poison import split_poison
from meterstream_sink.processor import ProcessedBatch, TableRows, process_batch
from meterstream_warehouse import RejectedBatch, RetriableWarehouseError, Warehouse

log = logging.getLogger(__name__)


class _FlushOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: ClickHouseSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._sink.flush()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %d partitions", len(assigned))


class ClickHouseSink:
    """Moves events from every raw and registry topic into their ClickHouse tables."""

    def __init__(
        self,
        *,
        config: SinkConfig,
        kafka: KafkaConfig,
        warehouse: Warehouse,
        metrics: SinkMetrics | None = None,
    ) -> None:
        self._config = config
        self._kafka = kafka
        self._warehouse = warehouse
        self.metrics = metrics or SinkMetrics()
        self._builder = BatchBuilder(
            BatchLimits(config.max_batch_rows, config.max_batch_bytes, config.max_batch_seconds)
        )
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Ask `run` to flush what it holds, commit and return."""
        self._stopping.set()

    async def run(self) -> None:
        specs = TOPICS.event_topics
        await apply_topics(self._kafka, (*specs, TOPICS.dead_letter))
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            client_id=f"{self._kafka.client_id}-sink",
            group_id=self._config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._config.session_timeout_ms,
            heartbeat_interval_ms=self._config.session_timeout_ms // 3,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        self._consumer.subscribe([spec.name for spec in specs], listener=_FlushOnRevoke(self))
        self._producer = make_producer(self._kafka, client_id=f"{self._kafka.client_id}-sink-dlq")
        await self._producer.start()
        await self._consumer.start()
        log.info("sink consuming %d topics as group %s", len(specs), self._config.group_id)
        try:
            await self._consume_until_stopped()
            await self.flush()
        finally:
            await self._consumer.stop()
            await self._producer.stop()

    async def _consume_until_stopped(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            wait = self._builder.seconds_left(now=time.monotonic())
            records = await self._consumer.getmany(
                timeout_ms=max(1, int(wait * 1000)), max_records=self._config.fetch_max_records
            )
            async with self._lock:
                now = time.monotonic()
                for partition, messages in records.items():
                    for message in messages:
                        self._builder.add(
                            ConsumedMessage(
                                partition.topic,
                                partition.partition,
                                message.offset,
                                message.timestamp,
                                message.value or b"",
                            ),
                            now=now,
                        )
                due = self._builder.is_due(now=time.monotonic())
            if due:
                await self.flush()

    async def flush(self) -> None:
        """Store and commit what the builder holds (called on limits, revoke and stop)."""
        async with self._lock:
            if self._builder.is_empty():
                return
            batch = self._builder.take()
            processed = await asyncio.to_thread(process_batch, batch)
            await self._store(processed)
            await self._send_dead_letters(processed)
            await self._commit(processed.offsets)
        self.metrics.batches.inc()
        self.metrics.batch_rows.observe(processed.rows)

    async def _store(self, processed: ProcessedBatch) -> None:
        for rows in processed.tables.values():
            await self._insert_with_retry(rows, processed)

    async def _insert_with_retry(self, rows: TableRows, processed: ProcessedBatch) -> None:
        delay = self._config.retry_initial_s
        while True:
            try:
                result = await asyncio.to_thread(
                    self._warehouse.insert_json_rows,
                    rows.table,
                    bytes(rows.payload),
                    dedup_token=rows.dedup_token,
                )
            except RetriableWarehouseError as error:
                self.metrics.retries.inc()
                log.warning(
                    "insert into %s failed, retrying in %.1fs: %s", rows.table, delay, error
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._config.retry_max_s)
                continue
            except RejectedBatch as error:
                log.warning(
                    "ClickHouse rejected a batch for %s; isolating poison: %s", rows.table, error
                )
                stored, letters = await asyncio.to_thread(
                    split_poison, self._warehouse, rows, processed
                )
                processed.dead_letters.extend(letters)
                self.metrics.rows_stored.labels(rows.table).inc(stored)
                return
            self.metrics.rows_stored.labels(rows.table).inc(result.rows)
            self.metrics.insert_seconds.labels(rows.table).observe(result.seconds)
            if rows.oldest_event_ms is not None:
                lag = time.time() - rows.oldest_event_ms / 1000
                self.metrics.freshness_seconds.observe(max(0.0, lag))
            return

    async def _send_dead_letters(self, processed: ProcessedBatch) -> None:
        if not processed.dead_letters or self._producer is None:
            return
        dlq = TOPICS.dead_letter
        messages = [
            (dlq.key_of(letter), letter.model_dump_json().encode())
            for letter in processed.dead_letters
        ]
        await send_messages(self._producer, dlq.name, messages)
        for letter in processed.dead_letters:
            self.metrics.dead_letters.labels(letter.source_topic).inc()

    async def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        assert self._consumer is not None
        await self._consumer.commit(
            {
                TopicPartition(topic, partition): offset
                for (topic, partition), offset in offsets.items()
            }
        )
