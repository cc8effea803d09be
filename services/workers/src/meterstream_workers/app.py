"""The faust app: agents over raw and derived topics publishing derived topics (wiring only).

- completions → inference partials, cost-ledger lines, metric-definition results;
- partials → merged windows and per-model totals (table `merged-windows`);
- per-model totals → per-project totals (table `project-totals`);
- training steps, API and GPU spend → history rows and ledger lines (table `training-runs`);
- metric values, grader scores, preferences → feedback partials (and judge results).
"""

from __future__ import annotations

from pathlib import Path

import faust

from meterstream_alerting.notify import LogNotifier, Notifier, WebhookNotifier
from meterstream_alerting.rules import load_rules, shipped_rules
from meterstream_kafka import KafkaConfig, Replication
from meterstream_workers import faust_patches
from meterstream_workers.agents_alerts import add_alert_agents
from meterstream_workers.agents_inference import add_inference_agents
from meterstream_workers.agents_training import add_feedback_agent, add_training_agent
from meterstream_workers.config import WorkerConfig
from meterstream_workers.registries import WorkerRegistries
from meterstream_workers.rewind import install as rewind_after_rebalance
from meterstream_workers.wiring import Wiring, log


def _store(config: WorkerConfig) -> str:
    if config.store.startswith("rocksdb"):
        try:
            import rocksdict  # noqa: F401
        except ImportError:
            log.warning("rocksdict is not installed; tables kept in memory (changelogs still)")
            return "memory://"
    return config.store


def create_app(
    config: WorkerConfig, kafka: KafkaConfig, replication: Replication | None = None
) -> faust.App:
    """`replication`: of faust's changelogs, as the catalogue's topics (one broker: none)."""
    replication = replication or Replication.for_cluster(1)
    rewind_after_rebalance()  # records dropped in a rebalance are read again, from offset 0 too
    faust_patches.install()  # idempotent producers; no crash on a partition being placed
    brokers = ";".join(f"kafka://{host}" for host in kafka.bootstrap_servers.split(","))
    # faust names table files after the table, not the app: one folder per app id
    data_dir = Path(config.data_dir) / config.app_id
    data_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        config.app_id,
        broker=brokers,
        store=_store(config),
        datadir=str(data_dir),
        web_enabled=False,
        topic_allow_declare=True,  # faust's own changelogs; ours come from the catalogue
        topic_partitions=4,
        topic_replication_factor=replication.factor,
        producer_acks=-1,  # every in-sync replica has a derived record before it counts
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=config.session_timeout_s / 3,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=config.stream_buffer,
        consumer_metadata_max_age_ms=kafka.metadata_max_age_ms,
        producer_metadata_max_age_ms=kafka.metadata_max_age_ms,
        # faust's own producer_request_timeout (20 minutes) stays: a send that times out
        # crashes the worker (with 10 s, a leader cut off 30 s did), a long one waits it out
    )
    registries = WorkerRegistries()
    wiring = Wiring(app, config, registries, registries.feed(kafka), replication)

    @app.task  # type: ignore[untyped-decorator]
    async def let_changelog_writes_queue() -> None:
        # faust stalls every agent for up to 0.1 s whenever more than 100 changelog
        # writes wait to be sent; they are sent continuously, so let more wait.
        app.producer.buffer.max_messages = config.changelog_buffer

    @app.task  # type: ignore[untyped-decorator]
    async def follow_registries() -> None:
        await wiring.feed.start()

    add_inference_agents(wiring)
    add_training_agent(wiring)
    add_feedback_agent(wiring)
    rules = load_rules(config.alert_rules) if config.alert_rules else shipped_rules()
    notifiers: list[Notifier] = [LogNotifier()]
    if config.alert_webhook_url:
        notifiers.append(
            WebhookNotifier(config.alert_webhook_url, timeout_s=config.alert_webhook_timeout_s)
        )
    add_alert_agents(wiring, rules, notifiers)

    @app.timer(interval=1.0, on_leader=False)  # type: ignore[untyped-decorator]
    async def heartbeat() -> None:
        print("workers ready", flush=True)

    del let_changelog_writes_queue, follow_registries, heartbeat
    return app
