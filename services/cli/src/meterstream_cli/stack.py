"""`meterstream up|down|status`: the whole pipeline live on one machine.

Broker, ClickHouse server, sink, workers, gateway and API each run as a process of
their own, the way they are deployed; `up` supervises them in the foreground and
records what it started in a state file, so `down` and `status` from another
terminal find them by PID.

Stopping loses nothing: the gateway goes first (it flushes what it accepted), then the
sink and the workers consume what is left on the topics, then they stop, then the API,
and last the broker and the ClickHouse server this `up` started.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from meterstream_cli.processes import ServiceProcess, gateway_process, worker_process
from meterstream_contracts import TOPICS
from meterstream_contracts.api_keys import hash_key, new_key
from meterstream_kafka import (
    KafkaConfig,
    LocalBroker,
    apply_topics,
    cluster_id_of,
    find_broker_script,
    group_lag,
    start_group_at_end,
)
from meterstream_sink.config import SinkConfig
from meterstream_warehouse import (
    LocalClickHouse,
    WarehouseConfig,
    find_clickhouse_script,
    migrate,
    open_warehouse,
)
from meterstream_workers.config import WorkerConfig
from meterstream_workers.topics import CONSUMED_TOPICS

DRAIN_S = 60.0
"""How long a stop waits for the sink and the workers to consume what is on the topics."""
SETTLE_S = 2.0
"""Longer than the workers' emit interval (0.5 s) several times over."""


@dataclass(frozen=True, slots=True)
class StackPlan:
    """What `up` starts, where, and for which projects (an API key each)."""

    state_dir: Path
    projects: tuple[str, ...] = ("local",)
    gateway_port: int = 8080
    api_port: int = 8090
    otlp_grpc_port: int = 4317
    local_broker: bool = True
    brokers: int = 1
    """Nodes of the local Kafka cluster (with 3: topics replicated 3 times, 2 in sync)."""
    local_clickhouse: bool = True
    fresh_groups: bool = False
    """New consumer groups placed at the topics' end: only what comes next is consumed (the
    demo shows its own traffic, not a backlog other runs left on the broker)."""


@dataclass(slots=True)
class StackState:
    """What `up` started: written to `<state_dir>/stack.json` for `down` and `status`."""

    supervisor: int
    api_keys: dict[str, str]
    """Project → its API key (gateway, OTLP and query API)."""
    gateway_url: str
    api_url: str
    kafka: str
    clickhouse: str
    sink_group: str
    workers_group: str
    otlp_grpc: str = ""
    """host:port of OTLP/gRPC; requests without a key there write the first project."""
    pids: dict[str, int] = field(default_factory=dict)
    """Component → PID, in start order."""

    def save(self, state_dir: Path) -> None:
        path = state_file(state_dir)
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)  # it holds the API key

    @classmethod
    def load(cls, state_dir: Path) -> StackState | None:
        path = state_file(state_dir)
        return cls(**json.loads(path.read_text())) if path.exists() else None


class StackError(Exception):
    """The stack cannot start as asked."""


def state_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (exited, not yet reaped by its parent) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class LocalStack:
    """Starts the pipeline's processes in order and stops them in the reverse one."""

    def __init__(self, plan: StackPlan) -> None:
        self.plan = plan
        self.kafka = KafkaConfig()
        self.warehouse = WarehouseConfig()
        self.services: dict[str, ServiceProcess] = {}
        self.broker: LocalBroker | None = None
        self.clickhouse: LocalClickHouse | None = None
        self.state: StackState | None = None
        self.sink_group = SinkConfig().group_id
        self.workers_group = WorkerConfig().app_id

    @property
    def logs(self) -> Path:
        return self.plan.state_dir / "logs"

    def start(self, *, say: Callable[[str], None]) -> StackState:
        """Start everything in order; a broker or a server that already runs is used and
        left running at the stop."""
        plan = self.plan
        previous = StackState.load(plan.state_dir)
        if previous is not None and alive(previous.supervisor):
            raise StackError(
                f"a stack is already up (pid {previous.supervisor}): `meterstream down` first"
            )
        plan.state_dir.mkdir(parents=True, exist_ok=True)
        stores: dict[str, int] = {}
        if plan.local_broker and "MS_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
            what = "broker" if plan.brokers == 1 else f"cluster of {plan.brokers} brokers"
            say(f"starting the local Apache Kafka {what} (the first run downloads its jars)")
            broker = LocalBroker(
                find_broker_script(), settings=(("MS_KAFKA_BROKERS", str(plan.brokers)),)
            )
            self.broker = broker if not any(node.pid for node in broker.nodes()) else None
            self.kafka = KafkaConfig(bootstrap_servers=broker.start())
            for node in broker.nodes():
                name = "broker" if plan.brokers == 1 else f"broker-{node.node}"
                stores[name] = node.pid or 0
        if plan.local_clickhouse and self.warehouse.backend == "server" and not _url_set():
            say("starting the local ClickHouse server")
            server = LocalClickHouse(find_clickhouse_script())
            self.clickhouse = server if server.pid() is None else None
            server.start()
            stores["clickhouse"] = server.pid() or 0
        asyncio.run(apply_topics(self.kafka, TOPICS))
        if plan.fresh_groups:
            stamp = int(time.time())
            self.sink_group = f"{self.sink_group}-{stamp}"
            self.workers_group = f"{self.workers_group}-{stamp}"
            asyncio.run(start_group_at_end(self.kafka, self.sink_group, keep_registries=True))
            asyncio.run(start_group_at_end(self.kafka, self.workers_group))
        store = open_warehouse(self.warehouse)
        try:
            migrate(store, raw_retention_days=self.warehouse.raw_retention_days)
        finally:
            store.close()
        keys = {project: new_key() for project in plan.projects}
        key_hashes = ",".join(f"{project}:{hash_key(key)}" for project, key in keys.items())
        env = {
            "MS_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "MS_SINK_GROUP_ID": self.sink_group,
        }
        self.services["sink"] = ServiceProcess(
            "meterstream_sink", log_path=self.logs / "sink.log", env=env
        )
        self.services["workers"] = worker_process(
            self.kafka,
            app_id=self.workers_group,
            # tables' local state belongs to one cluster's changelogs: a new cluster (another
            # size, a reset) starts from its own, or faust refuses offsets past the changelog end
            data_dir=plan.state_dir / "workers" / asyncio.run(cluster_id_of(self.kafka)),
            log_path=self.logs / "workers.log",
        )
        self.services["gateway"] = gateway_process(
            self.kafka,
            port=plan.gateway_port,
            grpc_port=plan.otlp_grpc_port,
            api_keys=key_hashes,
            log_path=self.logs / "gateway.log",
            # on loopback only: an exporter with no credentials (most examples) just works
            env={
                "MS_GATEWAY_ANONYMOUS_PROJECT": plan.projects[0],
                # what the raw tables keep, refused at the door when older
                "MS_GATEWAY_RAW_RETENTION_DAYS": str(self.warehouse.raw_retention_days),
            },
        )
        self.services["api"] = ServiceProcess(
            "meterstream_api",
            log_path=self.logs / "api.log",
            env={
                "MS_API_PORT": str(plan.api_port),
                "MS_API_API_KEYS": key_hashes,
                "MS_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
                # the health strip's consumer lag: this stack's own groups
                "MS_API_LAG_GROUPS": f"{self.sink_group},{self.workers_group}",
            },
        )
        self.services["sink"].wait_for_line("sink ready", timeout=120)
        self.services["workers"].wait_for_line("workers ready", timeout=120)
        api_url = self.services["api"].wait_for_line("api ready on", timeout=120)
        self.state = StackState(
            supervisor=os.getpid(),
            api_keys=keys,
            gateway_url=f"http://127.0.0.1:{plan.gateway_port}",
            otlp_grpc=f"127.0.0.1:{plan.otlp_grpc_port}",
            api_url=api_url,
            kafka=self.kafka.bootstrap_servers,
            clickhouse=_without_password(self.warehouse.url),
            sink_group=self.sink_group,
            workers_group=self.workers_group,
            pids={
                **stores,
                **{name: service.pid for name, service in self.services.items()},
            },
        )
        self.state.save(plan.state_dir)
        return self.state

    def failed(self) -> str | None:
        """The first service that has exited by itself, with its log's tail."""
        for name, service in self.services.items():
            if service.returncode is not None:
                return f"{name} exited ({service.returncode}):\n{service.tail()}"
        return None

    def stop(self, *, say: Callable[[str], None]) -> int:
        """Gateway; the workers drain, then stop (flushing their last windows); the sink
        drains what they published, then stops; the API; the broker and the server we
        started."""
        codes: dict[str, int] = {}
        everything = [spec.name for spec in TOPICS]
        began = time.monotonic()

        def step(message: str) -> None:  # each step with the seconds since the stop began
            say(f"{message} [{time.monotonic() - began:.1f} s]")

        if "gateway" in self.services:
            codes["gateway"] = self.services["gateway"].stop()
            step(f"gateway stopped ({codes['gateway']})")
        if "workers" in self.services:
            left = self._wait(self.workers_group, list(CONSUMED_TOPICS), say=step)
            codes["workers"] = self.services["workers"].stop()
            step(f"workers drained ({left} left) and stopped ({codes['workers']})")
        if "sink" in self.services:
            left = self._wait(self.sink_group, everything, say=step)
            step("sink drained" if left == 0 else f"[red]{left} messages still unstored[/]")
            codes["sink"] = self.services["sink"].stop()
            step(f"sink stopped ({codes['sink']})")
        if "api" in self.services:
            codes["api"] = self.services["api"].stop()
            step(f"api stopped ({codes['api']})")
        if self.broker is not None:
            self.broker.stop()
            step("broker stopped")
        if self.clickhouse is not None:
            self.clickhouse.stop()
            step("ClickHouse server stopped")
        if self.state is not None:
            state_file(self.plan.state_dir).unlink(missing_ok=True)
        return 0 if all(code in (0, -signal.SIGTERM) for code in codes.values()) else 1

    def _wait(self, group: str, topics: list[str], *, say: Callable[[str], None]) -> int:
        try:
            return asyncio.run(
                wait_until_stored(self.kafka, group, within_s=DRAIN_S, topics=topics)
            )
        except Exception as error:  # the broker itself may be what failed
            say(f"[red]could not read the lag of {group}: {error}[/]")
            return -1

    def drain(self) -> int:
        """Wait until the workers and then the sink have consumed everything on the topics;
        returns the sink's lag left (0 when all is stored)."""
        return asyncio.run(self._drain())

    async def _drain(self) -> int:
        """The workers consume everything (their output lands on derived topics), then the
        sink does; returns the sink's lag left."""
        consumed = list(CONSUMED_TOPICS)
        await wait_until_stored(self.kafka, self.workers_group, within_s=DRAIN_S, topics=consumed)
        everything = [spec.name for spec in TOPICS]
        return await wait_until_stored(
            self.kafka, self.sink_group, within_s=DRAIN_S, topics=everything
        )


async def wait_until_stored(
    kafka: KafkaConfig, group_id: str, *, within_s: float, topics: list[str] | None = None
) -> int:
    """Wait until `group_id` has committed every message of `topics` and nothing new came
    for `SETTLE_S` (the workers emit merged windows on a timer: a lag of 0 between two
    emissions is not the end); returns the lag left."""
    topics = topics or [spec.name for spec in TOPICS.event_topics]
    deadline = time.monotonic() + within_s
    lag, settled_since = -1, None
    while time.monotonic() < deadline:
        lag = sum((await group_lag(kafka, group_id=group_id, topics=topics)).values())
        if lag:
            settled_since = None
        elif settled_since is None:
            settled_since = time.monotonic()
        elif time.monotonic() - settled_since >= SETTLE_S:
            return 0
        await asyncio.sleep(0.25)
    return lag


def _url_set() -> bool:
    return any(name in os.environ for name in ("MS_WAREHOUSE_URL", "CLICKHOUSE_URL"))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=host))
