"""Run the workers: `meterstream-workers` or `python -m meterstream_workers`."""

from __future__ import annotations

import asyncio
import sys

from meterstream_kafka import KafkaConfig, replication_of
from meterstream_workers.app import create_app
from meterstream_workers.config import WorkerConfig


def main() -> None:
    kafka = KafkaConfig()
    # faust's changelogs are replicated as the catalogue's topics are
    app = create_app(WorkerConfig(), kafka, asyncio.run(replication_of(kafka)))
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
