#!/usr/bin/env bash
# A local ClickHouse server: ClickHouse's own HTTP and native servers from the locked
# chdb-core wheel (clickhouse-local's server mode), run as a process of its own on
# 127.0.0.1 by keeper.py beside this file.
#
#   clickhouse.sh start    write its configuration, start it, wait until /ping answers
#   clickhouse.sh stop     SIGTERM (the keeper stops the server cleanly), SIGKILL after 30 s
#   clickhouse.sh status   print "running <pid> <http url>" or "stopped"
#   clickhouse.sh reset    stop and delete the data folder
#
# Environment: MS_CLICKHOUSE_HTTP_PORT (8123), MS_CLICKHOUSE_TCP_PORT (9000),
# MS_CLICKHOUSE_DATA (infra/clickhouse/data), MS_CLICKHOUSE_START_TIMEOUT (60 seconds),
# MS_CLICKHOUSE_PYTHON (the workspace's .venv/bin/python), and the users'
# MS_CLICKHOUSE_USER / MS_CLICKHOUSE_PASSWORD (meterstream / meterstream),
# MS_CLICKHOUSE_ANALYST_USER / MS_CLICKHOUSE_ANALYST_PASSWORD (analyst / analyst).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
HTTP_PORT="${MS_CLICKHOUSE_HTTP_PORT:-8123}"
TCP_PORT="${MS_CLICKHOUSE_TCP_PORT:-9000}"
DATA="${MS_CLICKHOUSE_DATA:-$HERE/data}"
START_TIMEOUT="${MS_CLICKHOUSE_START_TIMEOUT:-60}"
PYTHON="${MS_CLICKHOUSE_PYTHON:-$REPO/.venv/bin/python}"
PIDFILE="$DATA/server.pid"
LOG="$DATA/server.log"

log() { echo "[local-clickhouse] $*" >&2; }

running_pid() {
  # Prints the PID only if the recorded process is alive and is our keeper on this folder.
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "keeper.py --data $DATA "; then
    echo "$pid"
    return 0
  fi
  log "removing stale PID file ($pid)"
  rm -f "$PIDFILE"
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pings() {
  # GET /ping over bash's own /dev/tcp (no curl needed on a new machine).
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && grep -q '^Ok\.' <&3" 2>/dev/null
}

start() {
  local pid
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on 127.0.0.1:$HTTP_PORT"
    echo "http://127.0.0.1:$HTTP_PORT"
    return 0
  fi
  for port in "$HTTP_PORT" "$TCP_PORT"; do
    if port_open "$port"; then
      log "port $port is taken by another process; set MS_CLICKHOUSE_HTTP_PORT / MS_CLICKHOUSE_TCP_PORT"
      exit 1
    fi
  done
  if [[ ! -x "$PYTHON" ]]; then
    log "no Python with chdb at $PYTHON: run 'uv sync --frozen' (or set MS_CLICKHOUSE_PYTHON)"
    exit 1
  fi
  mkdir -p "$DATA"
  # setsid: the server outlives the shell that started it and is not killed with the
  # caller's process group.
  setsid "$PYTHON" "$HERE/keeper.py" --data "$DATA" --http-port "$HTTP_PORT" --tcp-port "$TCP_PORT" \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  pid="$(cat "$PIDFILE")"
  local deadline=$((SECONDS + START_TIMEOUT))
  until pings && port_open "$TCP_PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server exited during start; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    if ((SECONDS > deadline)); then
      log "server did not answer within ${START_TIMEOUT}s; see $LOG"
      exit 1
    fi
    sleep 0.2
  done
  log "started (pid $pid) on http://127.0.0.1:$HTTP_PORT, native 127.0.0.1:$TCP_PORT"
  echo "http://127.0.0.1:$HTTP_PORT"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    log "not running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "server did not stop in 30s; killing pid $pid"
    kill -KILL "$pid"
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

status() {
  local pid
  if pid="$(running_pid 2>/dev/null)"; then
    echo "running $pid http://127.0.0.1:$HTTP_PORT"
  else
    echo "stopped"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$DATA" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
