"""Run the project's services as child processes, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from meterstream_kafka import KafkaConfig


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a service to take."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServiceProcess:
    """A service started as `python -m <module>`, its output in a log file."""

    def __init__(self, module: str, *, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.module = module
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            # A session of its own: Ctrl-C in the terminal reaches only the supervisor,
            # which stops its services in order.
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def wait(self, *, timeout: float) -> int:
        """Wait for the process to end by itself; returns its exit code."""
        code = self._process.wait(timeout=timeout)
        self._log.close()
        return code

    def wait_for_line(self, marker: str, *, timeout: float) -> str:
        """Block until the service prints `marker`; returns the rest of that line (where the
        service says it listens, say). Raises with its log if it dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if marker in text:
                return text.split(marker, 1)[1].split("\n", 1)[0].strip()
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.module} exited early:\n{self.tail()}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.module} did not print {marker!r} in {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, timeout: float = 60.0) -> int:
        """SIGTERM, wait, then SIGKILL if needed; returns the exit code."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        return self._process.returncode

    def kill(self) -> None:
        """SIGKILL: the crash a reliability test injects."""
        self._process.kill()
        self._process.wait()
        self._log.close()


def worker_process(
    kafka: KafkaConfig,
    *,
    app_id: str,
    data_dir: Path,
    log_path: Path,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    """The stream workers as a process of their own: consumer group `app_id`, tables under
    `data_dir`, further `MS_WORKER_*` settings in `env`."""
    return ServiceProcess(
        "meterstream_workers",
        log_path=log_path,
        env={
            "MS_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "MS_WORKER_APP_ID": app_id,
            "MS_WORKER_DATA_DIR": str(data_dir),
            **(env or {}),
        },
    )


def gateway_process(
    kafka: KafkaConfig,
    *,
    port: int,
    api_keys: str,
    log_path: Path,
    env: dict[str, str] | None = None,
    within_s: float = 120.0,
    grpc_port: int | None = None,
) -> ServiceProcess:
    """The ingest gateway as a process of its own on 127.0.0.1:`port` (OTLP/gRPC on
    `grpc_port`, else a free port), with `api_keys` (`project:sha256,...`) and further
    `MS_GATEWAY_*` settings in `env`; returns once its /healthz answers."""
    process = ServiceProcess(
        "meterstream_gateway",
        log_path=log_path,
        env={
            "MS_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "MS_GATEWAY_PORT": str(port),
            "MS_GATEWAY_OTLP_GRPC_PORT": str(grpc_port if grpc_port is not None else free_port()),
            "MS_GATEWAY_API_KEYS": api_keys,
            **(env or {}),
        },
    )
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"the gateway exited:\n{process.tail()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.stop()
    raise TimeoutError(f"the gateway did not answer in {within_s}s:\n{process.tail()}")
