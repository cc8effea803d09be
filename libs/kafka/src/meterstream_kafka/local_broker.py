"""Control of the local single-node Apache Kafka broker run by `infra/kafka/broker.sh`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from meterstream_kafka.errors import LocalBrokerError


def find_broker_script(start: Path | None = None) -> Path:
    """`infra/kafka/broker.sh` in the first folder at or above `start` (cwd) that has it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "infra" / "kafka" / "broker.sh"
        if candidate.is_file():
            return candidate
    raise LocalBrokerError(
        f"infra/kafka/broker.sh not found at or above {here}; run from a meterstream checkout"
        " or point MS_KAFKA_BOOTSTRAP_SERVERS at a running broker"
    )


@dataclass(frozen=True, slots=True)
class LocalBroker:
    """A real Apache Kafka broker process on 127.0.0.1, started and stopped by PID.

    `settings` are broker.sh's environment (MS_KAFKA_PORT, MS_KAFKA_DATA, ...),
    so a second broker can run beside the first one.
    """

    script: Path
    settings: tuple[tuple[str, str], ...] = ()

    def _run(self, command: str, timeout: float) -> str:
        try:
            done = subprocess.run(
                ["bash", str(self.script), command],
                env={**os.environ, **dict(self.settings)},
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise LocalBrokerError(f"broker.sh {command} timed out after {timeout}s") from error
        if done.returncode != 0:
            raise LocalBrokerError(f"broker.sh {command} failed:\n{done.stderr[-4000:]}")
        return done.stdout.strip()

    def start(self, *, timeout: float = 600.0) -> str:
        """Start the broker (fetching jars the first time); returns its bootstrap address."""
        return self._run("start", timeout).splitlines()[-1]

    def stop(self) -> None:
        self._run("stop", 60.0)

    def reset(self) -> None:
        """Stop it and delete its data folder."""
        self._run("reset", 60.0)

    def is_running(self) -> bool:
        return self._run("status", 30.0).startswith("running")

    def pid(self) -> int | None:
        """The broker's PID while it runs."""
        words = self._run("status", 30.0).split()
        return int(words[1]) if words and words[0] == "running" else None
