"""Dashboard benchmark: the page's first full render in headless Chromium over the query
benchmark's store (10M raw completions over 30 days, with their rollups, grader scores,
cost ledger and two 10k-step training runs).

The query API runs as its own process on that store; each sample opens a new page at a
range (the view a link with ?range= gives) and waits until every panel has drawn its
answer; the time is from the navigation's start. Two ways: a navigation of a tab already
open (a reload, a link followed), and a new tab (Chromium starts a renderer process for
it: about a second of CPU on this 2-core machine, shared with the server and ClickHouse).
Prints the first-render time per range (p50 and worst of the samples).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_queries import PROJECT, load
from benchmarks.broker import benchmark_kafka, benchmark_store
from meterstream_cli.processes import ServiceProcess
from meterstream_contracts.api_keys import hash_key, new_key

RANGES = ("15m", "1h", "6h", "24h", "7d", "30d")
CHROMIUM = "/usr/bin/chromium"


def render_times(
    url: str, key: str, range_: str, samples: int, *, new_tab: bool
) -> tuple[list[float], list[Any]]:
    """First-render milliseconds of `samples` page loads (each in a new tab, or each a new
    navigation of one open tab), and the last one's requests."""
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    requests: list[Any] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        for sample in range(samples + 1):  # the first one warms the tab, not counted
            page = browser.new_page(viewport={"width": 1400, "height": 1000}) if new_tab else tab
            page.goto(f"{url}/?range={range_}&sample={sample}#key={key}")
            page.wait_for_function("Number(document.body.dataset.loaded) >= 1", timeout=60_000)
            status = page.inner_text("#status")
            if "updated" not in status:
                raise RuntimeError(f"the page shows an error at {range_}: {status}")
            if sample > 0:
                times.append(float(page.evaluate("document.body.dataset.firstRenderMs")))
            requests = page.evaluate(
                "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
                ".map(e => e.duration)"
            )
            if new_tab:
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
                # the health strip's lag, of a sink's and a workers' group as `up` names them
                "MS_API_LAG_GROUPS": "meterstream-sink,meterstream-workers",
            },
        )
        try:
            url = api.wait_for_line("api ready on", timeout=120)
            print(
                f"{'range':>6} {'open tab p50 ms':>16} {'worst':>6} {'new tab p50 ms':>15}"
                f" {'worst':>6}  API requests (batched)"
            )
            for range_ in RANGES:
                opened, requests = render_times(url, key, range_, args.samples, new_tab=False)
                fresh, _ = render_times(url, key, range_, args.samples, new_tab=True)
                print(
                    f"{range_:>6} {statistics.median(opened):>16.0f} {max(opened):>6.0f}"
                    f" {statistics.median(fresh):>15.0f} {max(fresh):>6.0f}  {len(requests)}"
                    f" round trips, the longest {max(requests):.0f} ms"
                )
        finally:
            api.stop()
    finally:
        store.drop()


if __name__ == "__main__":
    main()
