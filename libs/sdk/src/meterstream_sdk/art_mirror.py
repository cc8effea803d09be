"""Send an existing ART training loop's history to meterstream, ART's own logging unchanged.

    run = ms.init_run(name="email-agent")
    mirror_art_model(model, run)  # the one line
    await model.log(train_groups, split="train", step=n)  # as before: ART writes its row,
    await model.log(val_groups, split="val", step=n)      # meterstream gets the same log

After each `model.log` that wrote a row, the row is read back from ART's history.jsonl
and sent as a log of the run: the builder's step values (spend tracked with ART's
`track_api_cost`, timings, counts) and the plain metrics, with the scenario ids ART saw
for the first time. The pipeline derives totals, rollups and throughput again, so the
run's rows in meterstream equal ART's.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from meterstream_sdk.training import Run
from meterstream_sdk.trajectories import art_row_parts


def mirror_art_model(model: Any, run: Run) -> Any:
    """Wrap `model.log` (an `art.Model` or `art.TrainableModel`) so each row it writes is
    also logged to `run`. Returns the model."""
    original: Callable[..., Awaitable[Any]] = model.log
    history = Path(model.base_path) / model.project / "models" / model.name / "history.jsonl"

    async def log(
        trajectories: Any = None,
        split: str = "val",
        *,
        metrics: dict[str, float] | None = None,
        step: int | None = None,
    ) -> Any:
        seen = _scenarios_seen(model)
        size = history.stat().st_size if history.exists() else 0
        result = await original(trajectories, split, metrics=metrics, step=step)
        if history.exists() and history.stat().st_size > size:
            row = json.loads(_last_line(history))
            parts = art_row_parts(row, split)
            after = _scenarios_seen(model)
            # the ids new to the run keep the count exact; a log whose ids were all seen
            # before still shows the count, so it sends one of them again
            counted = "data/cum/num_unique_scenarios" in row
            parts.scenario_ids = sorted(after - seen) or (sorted(after)[:1] if counted else [])
            run.log_parts(parts, split=split, step=int(row["step"]))
        return result

    object.__setattr__(model, "log", log)  # ART's models are pydantic: no validation here
    return model


def _scenarios_seen(model: Any) -> set[str]:
    state = model.read_state() or {}
    return set(state.get("_metrics_builder_state", {}).get("unique_scenario_ids", []))


def _last_line(path: Path) -> str:
    with path.open("rb") as file:
        file.seek(0, 2)
        end = file.tell()
        start = max(0, end - 65536)
        while True:
            file.seek(start)
            lines = file.read(end - start).rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or start == 0:
                return lines[-1].decode()
            start = max(0, start - 65536 * 4)
