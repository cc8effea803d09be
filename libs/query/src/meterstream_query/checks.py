"""What every reconcile check shares: a result, and the comparison of recomputed and
stored values keyed alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

COST_TOLERANCE_USD: Final = 1e-9
MAX_SHOWN: Final = 20


@dataclass
class CheckResult:
    name: str
    compared: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def compare(
    result: CheckResult,
    recomputed: dict[tuple[Any, ...], dict[str, float]],
    stored: dict[tuple[Any, ...], dict[str, float]],
    *,
    tolerance: Callable[[str], float] = lambda name: 0.0,
) -> CheckResult:
    for key in sorted(recomputed.keys() | stored.keys(), key=str):
        result.compared += 1
        want, got = recomputed.get(key), stored.get(key)
        label = "/".join(str(part) for part in key)
        if want is None or got is None:
            missing = "not derived" if got is None else "derived without raw events"
            result.differences.append(f"{label}: {missing}")
            continue
        for name, value in want.items():
            if abs(float(got.get(name, 0)) - float(value)) > tolerance(name):
                result.differences.append(
                    f"{label}: {name} stored {got.get(name)} recomputed {value}"
                )
    return result


def where(project: str | None, column: str = "project") -> str:
    return f"{column} = {{project:String}}" if project else "1"


def keyed(
    rows: Iterable[dict[str, Any]], key: tuple[str, ...], values: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, float]]:
    return {tuple(row[k] for k in key): {v: float(row[v]) for v in values} for row in rows}
