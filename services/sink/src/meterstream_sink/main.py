"""Run the sink as a process: `meterstream-sink` or `meterstream sink run`."""

from __future__ import annotations

import asyncio
import logging
import signal

from meterstream_kafka import KafkaConfig
from meterstream_sink.config import SinkConfig
from meterstream_sink.service import ClickHouseSink
from meterstream_warehouse import WarehouseConfig, migrate, open_warehouse

log = logging.getLogger("meterstream_sink")


async def run_sink(
    config: SinkConfig, kafka: KafkaConfig, warehouse_config: WarehouseConfig
) -> None:
    """Migrate the warehouse, then consume until SIGTERM/SIGINT; flush and commit on the way out."""
    warehouse = open_warehouse(warehouse_config)
    try:
        applied = migrate(warehouse, raw_retention_days=warehouse_config.raw_retention_days)
        if applied:
            log.info("applied migrations %s", [m.version for m in applied])
        sink = ClickHouseSink(
            config=config,
            kafka=kafka,
            warehouse=warehouse,
            raw_retention_days=warehouse_config.raw_retention_days,
        )
        if config.metrics_port:
            sink.metrics.serve(config.metrics_port)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, sink.stop)
        print("sink ready", flush=True)
        await sink.run()
    finally:
        warehouse.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_sink(SinkConfig(), KafkaConfig(), WarehouseConfig()))


if __name__ == "__main__":
    main()
