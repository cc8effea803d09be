"""What a benchmark reads about a process from /proc: peak RSS and CPU seconds."""

from __future__ import annotations

import os
from pathlib import Path


def peak_rss_mb(pid: int | None = None) -> float:
    """VmHWM of `pid` (this process by default), in MB."""
    for line in Path(f"/proc/{pid or os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
