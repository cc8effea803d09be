"""A three-broker cluster's faults under mixed traffic, while a sink and a worker run:
the broker leading the busiest partitions SIGKILLed (and after it returns, another), a
leader paused by SIGSTOP, a rolling restart of the three, and one broker cut off from
the others and from the clients by its network link, then healed.

Traffic goes through the ingest gateway (every kind of event) and the SDK over Kafka
(completions and grader scores). Each batch's outcome is recorded: acknowledged (a 200,
or the SDK delivered every event of it), failed (refused for certain: a 4xx or no
connection) or unknown (no answer, a 5xx, or the SDK gave part of it up). Afterwards
every acknowledged completion is stored exactly once, no failed one, an unknown one at
most once; `reconcile` is clean; and the test prints, per fault, the events acknowledged
while it lasted, the seconds until both consumer groups' lag was back to 0, and the
outcome counts (also appended to .meterstream/artifacts/cluster-faults.txt). A broker is
paused or cut off for 30 s (MS_CLUSTER_FAULT_S)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from meterstream_cli.processes import free_port, gateway_process
from meterstream_contracts import Completion
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import find_broker_script
from meterstream_query.reconcile import reconcile, report
from meterstream_sdk import Client, SdkConfig
from tests.helpers import ServerStore
from tests.reliability.cluster import Cluster
from tests.reliability.test_pipeline_faults import Pipeline, today_s_end, traffic

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / ".meterstream" / "artifacts" / "cluster-faults.txt"
"""Each run's figures per fault are appended here too."""
FAULT_S = float(os.environ.get("MS_CLUSTER_FAULT_S", "30"))
"""How long a broker stays paused or cut off: longer than the producers' request timeout
(30 s), so the writes a stalled leader held are retried on its successor within it."""
DOWN_S = 8.0
"""How long a SIGKILLed broker stays down before it is started again."""
LEAD_S, TRAIL_S = 4.0, 6.0
"""Traffic before the fault begins and after it has ended."""
BATCH = 200
KEY = "key-cluster-faults"


@dataclass
class Ledger:
    """Completion ids by outcome, and when each batch was sent."""

    acked: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    sent: list[tuple[float, str, int]] = field(default_factory=list)
    """(monotonic time a batch was begun, its outcome, completions in it)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, began: float, outcome: str, ids: list[str]) -> None:
        with self.lock:
            getattr(self, outcome).update(ids)
            self.sent.append((began, outcome, len(ids)))

    def acked_between(self, start: float, end: float) -> int:
        return sum(
            n for began, outcome, n in self.sent if outcome == "acked" and start <= began < end
        )

    def counts(self) -> dict[str, int]:
        return {"acked": len(self.acked), "failed": len(self.failed), "unknown": len(self.unknown)}


class Traffic:
    """Two clients sending in turns until stopped: the gateway (mixed kinds) and the SDK
    (completions with a grader score per fifth)."""

    def __init__(self, cluster: Cluster, gateway_url: str, project: str) -> None:
        self.gateway_url, self.project = gateway_url, project
        self.ledger = Ledger()
        self.stopping = threading.Event()
        self.batches = 0
        self.sdk = Client(
            project=project,
            kafka=cluster.kafka,
            config=SdkConfig(delivery_timeout_s=120.0),
        )
        self.thread = threading.Thread(target=self._run, name="traffic")

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=300)
        self.sdk.close()
        assert not self.thread.is_alive(), "the traffic did not stop"

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(headers=headers, timeout=120) as http:
            while not self.stopping.is_set():
                self._post(http, self.batches)
                self._log(self.batches)
                self.batches += 1
                time.sleep(0.1)

    def _post(self, http: httpx.Client, batch: int) -> None:
        events = traffic(self.project, batch, BATCH)
        ids = [e.completion_id for e in events if isinstance(e, Completion)]  # c<n>; SDK: s<n>
        body = orjson.dumps([event.model_dump(mode="json") for event in events])
        began = time.monotonic()
        try:
            response = http.post(self.gateway_url + "/v1/events", content=body)
        except httpx.ConnectError:
            self.ledger.record(began, "failed", ids)
            return
        except httpx.HTTPError:
            self.ledger.record(began, "unknown", ids)
            return
        if response.status_code == 200:
            assert response.json()["accepted"] == len(events), response.text
            self.ledger.record(began, "acked", ids)
        else:
            self.ledger.record(began, "failed" if response.status_code < 500 else "unknown", ids)

    def _log(self, batch: int) -> None:
        sdk, before = self.sdk, self.sdk.counters
        began = time.monotonic()
        ids = []
        for i in range(BATCH):
            n = batch * BATCH + i
            ids.append(sdk.log_completion(
                model=("gpt-4o", "gpt-4o-mini", "in-house-7b")[n % 3], provider="openai",
                latency_ms=float(200 + n % 900), ttft_ms=float(5 + n % 100),
                input_tokens=50 + n % 2000, output_tokens=1 + n % 400, cached_tokens=n % 20,
                status="error" if n % 37 == 0 else "ok", completion_id=f"s{n}",
            ))  # fmt: skip
            if n % 5 == 0:
                sdk.log_grader_score(
                    completion_id=f"s{n}", grader_name="judge", key="helpful", value=(n % 10) / 10
                )
        try:
            sdk.flush(timeout=180)
        except Exception:
            self.ledger.record(began, "unknown", ids)
            return
        after = sdk.counters
        whole = after["failed"] == before["failed"] and after["dropped"] == before["dropped"]
        self.ledger.record(began, "acked" if whole else "unknown", ids)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(find_broker_script(REPO), tmp_path_factory.mktemp("cluster"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


def run_fault(
    cluster: Cluster,
    server_store: ServerStore,
    folder: Path,
    project: str,
    *,
    name: str,
    fault: Callable[[Pipeline], None],
) -> None:
    """Traffic before, during and after `fault(pipeline)`, the pipeline running; then the
    checks and the figures of the closing note."""
    kafka = cluster.kafka
    pipeline = Pipeline(kafka, folder, server_store.env, today_s_end(kafka))
    port = free_port()
    gateway = gateway_process(
        kafka, port=port, api_keys=f"{project}:{hash_key(KEY)}", log_path=folder / "gateway.log"
    )
    try:
        with Traffic(cluster, f"http://127.0.0.1:{port}", project) as sent:
            time.sleep(LEAD_S)
            began = time.monotonic()
            fault(pipeline)
            ended = time.monotonic()
            time.sleep(TRAIL_S)
        stopped = time.monotonic()
        pipeline.settle()
        drained_s = time.monotonic() - stopped
    finally:
        gateway.stop()
        pipeline.stop()
    ledger = sent.ledger
    during = ledger.acked_between(began, ended)
    figures = (
        f"[cluster fault] {name}: lasted {ended - began:.1f} s; {during} completions"
        f" acknowledged during it; consumer lag back to 0 {stopped + drained_s - ended:.1f} s"
        f" after it ended (traffic went on {stopped - ended:.1f} s of that); outcomes"
        f" {ledger.counts()}"
    )
    print(f"\n{figures}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as report_file:
        report_file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {figures}\n")
    check(server_store, project, ledger)
    assert during > 0, "nothing was acknowledged while one broker was down"


def check(server_store: ServerStore, project: str, ledger: Ledger) -> None:
    rows = server_store.warehouse.query_rows(
        "SELECT completion_id AS id, count() AS n FROM raw_completions"
        " WHERE project = {p:String} GROUP BY id",
        params={"p": project},
    )
    stored = {row["id"]: int(row["n"]) for row in rows}
    doubled = sorted(i for i, n in stored.items() if n > 1)
    assert not doubled, f"{len(doubled)} completions stored more than once, e.g. {doubled[:3]}"
    lost = sorted(ledger.acked - stored.keys())
    assert not lost, f"{len(lost)} acknowledged completions not stored, e.g. {lost[:3]}"
    assert not ledger.failed & stored.keys(), "failed completions stored"
    assert stored.keys() <= ledger.acked | ledger.unknown, "stored completions nobody sent"
    assert ledger.acked, "nothing was acknowledged"
    results = reconcile(server_store.warehouse, project=project)
    assert all(result.ok for result in results), report(results)


def kill_leaders(cluster: Cluster) -> Callable[[Pipeline], None]:
    """SIGKILL of the broker leading most partitions of the busiest topic; once it is back
    and every replica in sync, of the sink group's coordinator, or when that was the first
    one, of the leader of most partitions among the others."""

    def kill_and_return(node: int, why: str) -> None:
        print(f"\n[cluster fault] SIGKILL of node {node}, {why}", flush=True)
        os.kill(cluster.pid(node), signal.SIGKILL)
        time.sleep(DOWN_S)
        cluster.broker.start_node(node)
        asyncio.run(cluster.wait_fully_replicated())

    def fault(pipeline: Pipeline) -> None:
        first = asyncio.run(cluster.busiest_leader())
        kill_and_return(first, "the leader of most partitions")
        coordinator = asyncio.run(cluster.coordinator_of(pipeline.harness.group))
        if coordinator == first:
            other = asyncio.run(cluster.busiest_leader(besides=first))
            kill_and_return(other, "the leader of most partitions among the others")
        else:  # the sink's group moves to another coordinator
            kill_and_return(coordinator, "the sink group's coordinator")

    return fault


def test_killed_leaders_lose_and_double_nothing_acknowledged(
    cluster: Cluster, server_store: ServerStore, tmp_path: Path, project_name: str
) -> None:
    run_fault(
        cluster,
        server_store,
        tmp_path,
        project_name,
        name="SIGKILL of two leaders",
        fault=kill_leaders(cluster),
    )


def test_a_paused_leader_loses_and_doubles_nothing_acknowledged(
    cluster: Cluster, server_store: ServerStore, tmp_path: Path, project_name: str
) -> None:
    def pause(_: Pipeline) -> None:
        pid = cluster.pid(asyncio.run(cluster.busiest_leader()))
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(FAULT_S)
        finally:
            os.kill(pid, signal.SIGCONT)
        asyncio.run(cluster.wait_fully_replicated())

    run_fault(
        cluster, server_store, tmp_path, project_name, name=f"SIGSTOP {FAULT_S:.0f} s", fault=pause
    )


def test_a_rolling_restart_loses_and_doubles_nothing_acknowledged(
    cluster: Cluster, server_store: ServerStore, tmp_path: Path, project_name: str
) -> None:
    def roll(_: Pipeline) -> None:
        for node in range(1, 4):
            cluster.broker.stop_node(node)
            cluster.broker.start_node(node)
            asyncio.run(cluster.wait_fully_replicated())

    run_fault(cluster, server_store, tmp_path, project_name, name="rolling restart", fault=roll)


def test_a_partitioned_broker_loses_and_doubles_nothing_acknowledged(
    cluster: Cluster, server_store: ServerStore, tmp_path: Path, project_name: str
) -> None:
    def partition(_: Pipeline) -> None:
        node = asyncio.run(cluster.busiest_leader())
        cluster.network.cut(node)
        try:
            time.sleep(FAULT_S)
        finally:
            cluster.network.heal(node)
        asyncio.run(cluster.wait_fully_replicated())

    name = f"network partition {FAULT_S:.0f} s"
    run_fault(cluster, server_store, tmp_path, project_name, name=name, fault=partition)
