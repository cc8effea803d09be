"""Run ClickHouse's own server code from the locked chdb-core wheel as a process of its own.

clickhouse-local (which chDB embeds) has a server mode: `SYSTEM START LISTEN HTTP|TCP`
opens ClickHouse's HTTP and native listeners, configured by the `config.xml` in the
working directory. The listeners live only while the statement that started them is
still running, so this process keeps one statement running for as long as the server
should be up.

Why that statement reads a pipe of this process's own:
- It is idle. A statement that sleeps (`sleepEachRow` over `system.numbers`) keeps the
  engine's pulling thread polling: measured, a whole core (4.8 CPU s in 5 s) on a
  2-core machine. Reading a pipe nobody writes to blocks in the kernel (0.04 CPU s in 5 s).
- Only this process can end it. Python signal handlers run between bytecodes and the
  engine call blocks, so the statement runs on a worker thread and the main thread waits
  for SIGTERM/SIGINT; on either it closes the pipe's write end, the read sees its end,
  the statement returns, the listeners close and the process exits 0. No user of the
  server can stop it: the services' user has no KILL QUERY or SYSTEM LISTEN, the
  analysts' user is read-only, and `default` can run nothing but the keep-alive.
- `default` must exist with no password: clickhouse-local logs its own session in as
  `default` (hard-coded in ClickHouse), from an address that matches every loopback one.
  Its quota admits exactly the keep-alive's statements, so any query sent to the server
  as `default` that touches a table, a file or the server is refused (QUOTA_EXCEEDED).
- A watchdog pings the HTTP listener; if it stops answering, the process exits non-zero
  so whoever supervises it sees it go.
Data is safe on SIGKILL too: MergeTree parts are written before an insert returns.

Usage: keeper.py --data DIR --http-port N --tcp-port N (passwords from the environment:
MS_CLICKHOUSE_PASSWORD, MS_CLICKHOUSE_ANALYST_PASSWORD; users MS_CLICKHOUSE_USER,
MS_CLICKHOUSE_ANALYST_USER).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import importlib.util
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape


def keepalive_statements(pipe_fd: int) -> tuple[str, ...]:
    """What clickhouse-local runs as `default`: open the listeners, then block on the pipe."""
    return (
        "SYSTEM START LISTEN HTTP",
        "SYSTEM START LISTEN TCP",
        f"SELECT count() FROM file('/dev/fd/{pipe_fd}', 'LineAsString')",
    )


KEEPALIVE_QUERIES = len(keepalive_statements(0))
"""`default`'s quota: exactly these."""


@dataclass(frozen=True)
class ServerDefaults:
    """The users and the analysts' limits when the environment sets none (docker-compose's
    ClickHouse gets the same; a test compares them)."""

    user: str = "meterstream"
    password: str = "meterstream"
    analyst_user: str = "analyst"
    analyst_password: str = "analyst"
    analyst_max_memory_bytes: int = 2 * 1024**3
    analyst_max_execution_s: int = 60


@dataclass(frozen=True)
class ServerSettings:
    data: Path
    http_port: int
    tcp_port: int
    user: str
    password: str
    analyst_user: str
    analyst_password: str
    analyst_max_memory_bytes: int
    analyst_max_execution_s: int


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _user(name: str, password: str, profile: str, grants: list[str], quota: str = "") -> str:
    auth = (
        f"<password_sha256_hex>{_sha256(password)}</password_sha256_hex>"
        if password
        else ("<no_password/>")
    )
    queries = "".join(f"<query>{escape(grant)}</query>" for grant in grants)
    quota_xml = f"<quota>{quota}</quota>" if quota else ""
    return (
        f"<{name}>{auth}<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
        f"<profile>{profile}</profile>{quota_xml}<grants>{queries}</grants></{name}>"
    )


def users_xml(settings: ServerSettings) -> str:
    """Who may connect, and what each may do."""
    users = [
        _user(
            "default",
            "",
            "default",
            [
                "GRANT SYSTEM LISTEN ON *.*",
                "GRANT READ ON FILE",
                "GRANT CREATE TEMPORARY TABLE ON *.*",
            ],
            quota="keepalive_only",
        ),
        _user(
            settings.user,
            settings.password,
            "default",
            ["GRANT ALL ON *.*", "REVOKE KILL QUERY, SYSTEM LISTEN, SYSTEM SHUTDOWN ON *.*"],
        ),
        _user(
            settings.analyst_user, settings.analyst_password, "analysts", ["GRANT SELECT ON *.*"]
        ),
    ]
    memory = settings.analyst_max_memory_bytes
    seconds = settings.analyst_max_execution_s
    return f"""<clickhouse>
  <users>{"".join(users)}</users>
  <profiles>
    <default/>
    <analysts>
      <readonly>2</readonly>
      <max_memory_usage>{memory}</max_memory_usage>
      <max_execution_time>{seconds}</max_execution_time>
      <max_result_rows>10000000</max_result_rows>
      <constraints>
        <readonly><min>1</min></readonly>
        <max_memory_usage><max>{memory}</max></max_memory_usage>
        <max_execution_time><max>{seconds}</max></max_execution_time>
      </constraints>
    </analysts>
  </profiles>
  <quotas>
    <keepalive_only>
      <interval><duration>315360000</duration><queries>{KEEPALIVE_QUERIES}</queries></interval>
    </keepalive_only>
  </quotas>
</clickhouse>
"""


def config_xml(settings: ServerSettings) -> str:
    return f"""<clickhouse>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{settings.http_port}</http_port>
  <tcp_port>{settings.tcp_port}</tcp_port>
  <users_config>users.xml</users_config>
  <max_connections>1024</max_connections>
</clickhouse>
"""


def write_configuration(settings: ServerSettings) -> None:
    """clickhouse-local reads config.xml from its working directory: the data folder."""
    settings.data.mkdir(parents=True, exist_ok=True)
    for name, text in (("config.xml", config_xml(settings)), ("users.xml", users_xml(settings))):
        path = settings.data / name
        path.write_text(text)
        path.chmod(0o600)


def _pings(settings: ServerSettings) -> bool:
    try:
        url = f"http://127.0.0.1:{settings.http_port}/ping"
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [keeper] {message}", file=sys.stderr, flush=True)


def load_engine() -> Any:
    """chDB's engine module, loaded without running `chdb/__init__` (which opens an
    in-memory engine of its own as `default` at import, and would use up a statement of
    the keep-alive's quota)."""
    spec = importlib.util.find_spec("chdb")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("chdb is not installed in this interpreter: run `uv sync --frozen`")
    library = Path(next(iter(spec.submodule_search_locations))) / "_chdb.abi3.so"
    loader = importlib.machinery.ExtensionFileLoader("_chdb", str(library))
    module_spec = importlib.util.spec_from_loader("_chdb", loader)
    assert module_spec is not None
    module = importlib.util.module_from_spec(module_spec)
    loader.exec_module(module)
    return module


def serve(settings: ServerSettings) -> int:
    write_configuration(settings)
    os.chdir(settings.data)  # the engine reads ./config.xml when it starts
    _chdb = load_engine()
    pipe_read, pipe_write = os.pipe()
    outcome: dict[str, str] = {}

    def keep_alive() -> None:
        statements = "; ".join(keepalive_statements(pipe_read))
        try:
            _chdb.query(statements, "TabSeparated", path=str(settings.data))
            outcome["ended"] = "stopped"
        except Exception as error:  # the engine reports every failure as one exception type
            outcome["ended"] = f"failed: {error}"

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    engine = threading.Thread(target=keep_alive, name="clickhouse-keepalive", daemon=True)
    engine.start()

    misses = 0
    started = time.monotonic()
    while not stop.wait(1.0):
        if not engine.is_alive():
            _log(f"the keep-alive statement ended on its own: {outcome.get('ended')}")
            return 1
        if _pings(settings):
            misses = 0
        elif time.monotonic() - started > 30:
            misses += 1
            if misses >= 5:
                _log("the HTTP listener stopped answering; exiting")
                return 1

    _log("stopping: closing the keep-alive's pipe")
    os.close(pipe_write)
    engine.join(timeout=30)
    _log("stopped" if not engine.is_alive() else "keep-alive still running after 30 s")
    return 0 if not engine.is_alive() else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--http-port", type=int, default=8123)
    parser.add_argument("--tcp-port", type=int, default=9000)
    args = parser.parse_args()
    env, defaults = os.environ.get, ServerDefaults()
    settings = ServerSettings(
        data=args.data.resolve(),
        http_port=args.http_port,
        tcp_port=args.tcp_port,
        user=env("MS_CLICKHOUSE_USER", defaults.user),
        password=env("MS_CLICKHOUSE_PASSWORD", defaults.password),
        analyst_user=env("MS_CLICKHOUSE_ANALYST_USER", defaults.analyst_user),
        analyst_password=env("MS_CLICKHOUSE_ANALYST_PASSWORD", defaults.analyst_password),
        analyst_max_memory_bytes=int(
            env("MS_CLICKHOUSE_ANALYST_MAX_MEMORY", str(defaults.analyst_max_memory_bytes))
        ),
        analyst_max_execution_s=int(
            env("MS_CLICKHOUSE_ANALYST_MAX_SECONDS", str(defaults.analyst_max_execution_s))
        ),
    )
    for name in ("user", "analyst_user"):
        value = getattr(settings, name)
        if value == "default" or not value.replace("_", "").isalnum():
            parser.error(f"{name} {value!r}: a plain name other than default")
    if not settings.password or not settings.analyst_password:
        parser.error("MS_CLICKHOUSE_PASSWORD and MS_CLICKHOUSE_ANALYST_PASSWORD may not be empty")
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
