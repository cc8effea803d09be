"""Alerting agents: the evaluator over derived streams, the dispatcher over the alerts topic.

Rules come from the deployment's rule file and, per project, from the alert_config
registry (managed with the CLI and the HTTP API; changes apply while running).
The evaluator keeps each (rule, group) state in the `alert-states` table (a
group is the derived stream's message key, so its state is written from one
partition) and publishes firing and resolved events on `meterstream.alerts`,
keyed by a dedup key made of the rule, the group and the event time the
condition started. Replaying the derived streams reproduces the same keys.

The dispatcher reads the alerts topic and notifies each (dedup key, state)
once: the `alert-notifications` table remembers what was sent, so a restart or
a consumer reset does not notify again. Silences suppress notifications (the
alert is still published and stored).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from meterstream_alerting.engine import RuleEngine, dispatch_decision
from meterstream_alerting.managed import AlertBook
from meterstream_alerting.notify import Notifier, log
from meterstream_alerting.rules import SOURCE_TOPICS, RuleFile
from meterstream_contracts import TOPICS, split_envelope
from meterstream_contracts.derived import AlertEvent
from meterstream_workers.wiring import Wiring

ALERTS = "meterstream.alerts"


def add_alert_agents(w: Wiring, rules: RuleFile, notifiers: Sequence[Notifier]) -> None:
    book = AlertBook(rules)
    engine = RuleEngine(rules)
    states = w.table("alert-states")
    sent = w.table("alert-notifications", partitions=1)  # as the alerts topic

    def config_changed(record: dict[str, Any]) -> None:
        if book.apply(record):
            engine.set_rules(book.rules)
            log.info("alert rules in force: %d", len(book.rules))

    w.feed.add_handler(TOPICS.for_kind("alert_config").name, config_changed)

    @w.app.agent(w.topic(*SOURCE_TOPICS.values()))
    async def evaluator(stream: Any) -> None:
        async for event in stream.events():
            if not engine.reads(event.message.topic):
                continue  # every derived stream is followed; only rules' streams are decoded
            records = [orjson.loads(line) for line in split_envelope(event.value or b"")]
            alerts, changed = engine.apply(
                event.message.topic, records, event.message.timestamp, states.get
            )
            for key, state in changed.items():
                states[key] = state.state()
            await w.publish(ALERTS, alerts)

    @states.on_recover  # type: ignore[untyped-decorator]
    async def states_recovered() -> None:
        for key, saved in states.items():
            if saved:
                engine.recover(key, saved)

    @w.app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def watch_absence() -> None:
        await w.publish(ALERTS, engine.silent_groups(time.time()))

    @w.app.agent(w.topic(ALERTS))
    async def dispatcher(stream: Any) -> None:
        async for event in stream.events():
            for line in split_envelope(event.value or b""):
                alert = AlertEvent.model_validate_json(line)
                decision = dispatch_decision(alert, sent.get, book.silences)
                if decision != "notify":
                    log.debug("alert %s %s: %s", alert.dedup_key, alert.state, decision)
                    continue
                for notifier in notifiers:
                    try:
                        await notifier.notify(alert)
                    except Exception as error:  # one notifier failing must not stop the others
                        log.error("notifier %r failed for %s: %s", notifier, alert.dedup_key, error)
                sent[f"{alert.dedup_key}:{alert.state}"] = True

    w.forget_on_rebalance(engine.forget_groups)
    del evaluator, states_recovered, watch_absence, dispatcher
