"""A three-broker Apache Kafka cluster of the test's own: each node a process in a network
namespace the test made (its own address on a bridge of the test's own), so a node can
be cut off from the others and from the clients and healed, besides being killed,
paused or restarted by PID. Only those namespaces' addresses are used."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, LocalBroker, admin_client

NODES = 3
PORT, CONTROLLER_PORT = 39192, 39193


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Network:
    """A bridge and one namespace per node, joined to it by a veth pair; names and the
    /24 are derived from this process's PID so two runs never share them."""

    tag: str = field(default_factory=lambda: f"ms{os.getpid() % 100_000}")
    subnet: str = field(default_factory=lambda: f"10.219.{os.getpid() % 250}")

    @property
    def bridge(self) -> str:
        return f"{self.tag}br"

    def namespace(self, node: int) -> str:
        return f"{self.tag}n{node}"

    def host_side(self, node: int) -> str:
        return f"{self.tag}h{node}"

    def address(self, node: int) -> str:
        return f"{self.subnet}.{node}"

    def create(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for node in range(1, NODES + 1):
            ns, host, peer = self.namespace(node), self.host_side(node), f"{self.tag}p{node}"
            ip("netns", "add", ns)
            ip("link", "add", host, "type", "veth", "peer", "name", peer)
            ip("link", "set", peer, "netns", ns)
            ip("-n", ns, "addr", "add", f"{self.address(node)}/24", "dev", peer)
            ip("-n", ns, "link", "set", peer, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("link", "set", host, "master", self.bridge)
            ip("link", "set", host, "up")

    def cut(self, node: int) -> None:
        """The node's only link goes down: no packet to or from it, connections hang."""
        ip("link", "set", self.host_side(node), "down")

    def heal(self, node: int) -> None:
        ip("link", "set", self.host_side(node), "up")

    def remove(self) -> None:
        for node in range(1, NODES + 1):
            subprocess.run(
                ["ip", "netns", "del", self.namespace(node)], check=False, capture_output=True
            )
        subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)


class Cluster:
    """The three nodes, started by `infra/kafka/broker.sh` inside the namespaces."""

    def __init__(self, script: Path, data: Path) -> None:
        self.network = Network()
        addresses = " ".join(self.network.address(n) for n in range(1, NODES + 1))
        self.broker = LocalBroker(
            script,
            settings=(
                ("MS_KAFKA_BROKERS", str(NODES)),
                ("MS_KAFKA_PORT", str(PORT)),
                ("MS_KAFKA_CONTROLLER_PORT", str(CONTROLLER_PORT)),
                ("MS_KAFKA_HOSTS", addresses),
                ("MS_KAFKA_NETNS", self.network.tag + "n"),
                ("MS_KAFKA_DATA", str(data)),
            ),
        )
        self.kafka = KafkaConfig(bootstrap_servers="")

    def start(self) -> KafkaConfig:
        self.network.create()
        self.kafka = KafkaConfig(bootstrap_servers=self.broker.start())
        return self.kafka

    def stop(self) -> None:
        try:
            for node in self.broker.nodes():
                if node.pid is not None:
                    os.kill(node.pid, signal.SIGCONT)  # a paused node cannot stop
                self.network.heal(node.node)
            self.broker.stop()
        finally:
            self.network.remove()

    def pid(self, node: int) -> int:
        pid = self.broker.nodes()[node - 1].pid
        assert pid is not None, f"node {node} is not running"
        return pid

    async def leaders(self) -> Counter[int]:
        """Node id → how many partitions of the raw completions topic (the busiest) it leads."""
        topic = TOPICS.for_kind("completion").name
        described = await self._describe([topic])
        return Counter(p["leader"] for item in described for p in item["partitions"])

    async def busiest_leader(self, *, besides: int | None = None) -> int:
        ranked = [node for node, _ in (await self.leaders()).most_common() if node != besides]
        return ranked[0] if ranked else next(n for n in range(1, NODES + 1) if n != besides)

    async def coordinator_of(self, group: str) -> int:
        """The node coordinating a consumer group (the leader of its offsets partition)."""
        async with admin_client(self.kafka) as admin:
            node: int = await admin.find_coordinator(group)
            return node

    async def under_replicated(self) -> int:
        """Partitions of the catalogue's topics whose in-sync replicas are not all of them."""
        described = await self._describe([spec.name for spec in TOPICS])
        return sum(
            len(p["isr"]) < len(p["replicas"]) for item in described for p in item["partitions"]
        )

    async def wait_fully_replicated(self, *, within_s: float = 120) -> float:
        """Seconds until every partition has all its replicas in sync again."""
        began = time.monotonic()
        while (left := await self.under_replicated()) > 0:
            assert time.monotonic() - began < within_s, f"{left} partitions under-replicated"
            await asyncio.sleep(0.5)
        return time.monotonic() - began

    async def _describe(self, topics: list[str]) -> list[dict[str, Any]]:
        async with admin_client(self.kafka) as admin:
            described: list[dict[str, Any]] = await admin.describe_topics(topics)
            return described
