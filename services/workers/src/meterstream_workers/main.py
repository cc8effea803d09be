"""Run the workers: `meterstream-workers` or `python -m meterstream_workers`."""

from __future__ import annotations

import sys

from meterstream_kafka import KafkaConfig
from meterstream_workers.app import create_app
from meterstream_workers.config import WorkerConfig


def main() -> None:
    app = create_app(WorkerConfig(), KafkaConfig())
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
