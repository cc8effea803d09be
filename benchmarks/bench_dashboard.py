"""Dashboard benchmark: the page's first full render in headless Chromium over the query
benchmark's store (10M raw completions over 30 days, with their rollups, grader scores,
cost ledger and two 10k-step training runs).

The query API runs as its own process on that store; each sample opens a new page at a
range (the view a link with ?range= gives) and waits until every panel has drawn its
answer. Prints the first-render time per range (p50 and worst of the samples) and the
slowest API requests of the last sample.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_queries import PROJECT, load
from benchmarks.broker import benchmark_kafka, benchmark_store
from meterstream_cli.processes import ServiceProcess
from meterstream_contracts.api_keys import hash_key, new_key

RANGES = ("15m", "1h", "6h", "24h", "7d", "30d")
CHROMIUM = "/usr/bin/chromium"


def render_times(url: str, key: str, range_: str, samples: int) -> tuple[list[float], list[Any]]:
    """First-render milliseconds of `samples` fresh page loads, and the last one's requests."""
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    requests: list[Any] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        for _ in range(samples):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/?range={range_}#key={key}")
            page.wait_for_function("Number(document.body.dataset.loaded) >= 1", timeout=60_000)
            status = page.inner_text("#status")
            if "updated" not in status:
                raise RuntimeError(f"the page shows an error at {range_}: {status}")
            times.append(float(page.evaluate("document.body.dataset.firstRenderMs")))
            requests = page.evaluate(
                "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
                ".map(e => [e.name.split('/api/v1/')[1].split('&start')[0], e.duration])"
            )
            page.close()
        browser.close()
    return times, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    kafka = benchmark_kafka()
    store = benchmark_store("bench_dashboard")
    key = new_key()
    try:
        seconds = load(store.warehouse, events=args.events, now=now)
        print(f"loaded {args.events:,} completions over 30 days in {seconds:.0f} s")
        api = ServiceProcess(
            "meterstream_api",
            log_path=Path(tempfile.mkdtemp(prefix="ms-bench-dashboard-")) / "api.log",
            env={
                **store.env,
                "MS_API_PORT": "0",
                "MS_API_API_KEYS": f"{PROJECT}:{hash_key(key)}",
                "MS_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            },
        )
        try:
            url = api.wait_for_line("api ready on", timeout=120)
            render_times(url, key, "1h", 1)  # warm: the server's caches, Chromium's start
            print(f"{'range':>6} {'first render p50 ms':>20} {'worst ms':>9}  slowest requests")
            for range_ in RANGES:
                started = time.perf_counter()
                times, requests = render_times(url, key, range_, args.samples)
                slowest = sorted(requests, key=lambda r: -r[1])[:3]
                shown = ", ".join(f"{name} {ms:.0f}" for name, ms in slowest)
                print(
                    f"{range_:>6} {statistics.median(times):>20.0f} {max(times):>9.0f}  {shown}"
                    f"  ({time.perf_counter() - started:.0f} s)"
                )
        finally:
            api.stop()
    finally:
        store.drop()


if __name__ == "__main__":
    main()
