"""Control of the local ClickHouse server run by `infra/clickhouse/clickhouse.sh`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from meterstream_warehouse.errors import LocalServerError


def find_clickhouse_script(start: Path | None = None) -> Path:
    """`infra/clickhouse/clickhouse.sh` in the first folder at or above `start` (cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "infra" / "clickhouse" / "clickhouse.sh"
        if candidate.is_file():
            return candidate
    raise LocalServerError(
        f"infra/clickhouse/clickhouse.sh not found at or above {here}; run from a meterstream"
        " checkout or point MS_WAREHOUSE_URL at a running ClickHouse server"
    )


@dataclass(frozen=True, slots=True)
class LocalClickHouse:
    """A real ClickHouse server process on 127.0.0.1, started and stopped by PID.

    `settings` are clickhouse.sh's environment (MS_CLICKHOUSE_HTTP_PORT,
    MS_CLICKHOUSE_DATA, ...), so a second server can run beside the first one.
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
            raise LocalServerError(f"clickhouse.sh {command} timed out after {timeout}s") from error
        if done.returncode != 0:
            raise LocalServerError(f"clickhouse.sh {command} failed:\n{done.stderr[-4000:]}")
        return done.stdout.strip()

    def start(self, *, timeout: float = 120.0) -> str:
        """Start the server (idempotent); returns its HTTP address without credentials."""
        return self._run("start", timeout).splitlines()[-1]

    def stop(self) -> None:
        self._run("stop", 60.0)

    def reset(self) -> None:
        """Stop it and delete its data folder."""
        self._run("reset", 60.0)

    def pid(self) -> int | None:
        """The server's PID while it runs."""
        words = self._run("status", 30.0).split()
        return int(words[1]) if words and words[0] == "running" else None

    def url(self, *, user: str, password: str) -> str:
        """The HTTP URL a client uses, with a user's credentials."""
        port = dict(self.settings).get("MS_CLICKHOUSE_HTTP_PORT", "8123")
        return f"http://{user}:{password}@127.0.0.1:{port}"
