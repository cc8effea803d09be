"""Control of the local Apache Kafka brokers run by `infra/kafka/broker.sh`: one node, or a
cluster of several on this machine."""

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
class BrokerNode:
    """One node of the local cluster as broker.sh reports it."""

    node: int
    """1-based, the node's `node.id`."""
    address: str
    pid: int | None
    """While it runs."""


@dataclass(frozen=True, slots=True)
class LocalBroker:
    """Real Apache Kafka broker processes on this machine, started and stopped by PID: one
    node, or with MS_KAFKA_BROKERS=N in `settings` a cluster of N (each broker and
    controller, its own process, ports and data folder).

    `settings` are broker.sh's environment (MS_KAFKA_PORT, MS_KAFKA_DATA, ...),
    so a second broker can run beside the first one.
    """

    script: Path
    settings: tuple[tuple[str, str], ...] = ()

    def _run(self, command: str, timeout: float, *args: str) -> str:
        try:
            done = subprocess.run(
                ["bash", str(self.script), command, *args],
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
        """Start every node (fetching jars the first time); returns the bootstrap addresses."""
        return self._run("start", timeout).splitlines()[-1]

    def stop(self) -> None:
        """Stop every node (together: broker.sh signals them all, then waits)."""
        self._run("stop", 60.0)

    def start_node(self, node: int, *, timeout: float = 120.0) -> None:
        """Start one node of the cluster again (on its data)."""
        self._run("start", timeout, str(node))

    def stop_node(self, node: int) -> None:
        """Stop one node in order (SIGTERM: it hands its leaderships over first)."""
        self._run("stop", 60.0, str(node))

    def nodes(self) -> list[BrokerNode]:
        """Every node, with its PID while it runs."""
        found = []
        for number, line in enumerate(self._run("status", 30.0).splitlines(), start=1):
            words = line.split()
            running = words[0] == "running"
            found.append(BrokerNode(number, words[-1], int(words[1]) if running else None))
        return found

    def reset(self) -> None:
        """Stop it and delete its data folder."""
        self._run("reset", 60.0)

    def is_running(self) -> bool:
        """Whether every node runs."""
        return all(node.pid is not None for node in self.nodes())

    def pid(self) -> int | None:
        """The first node's PID while it runs."""
        return self.nodes()[0].pid
