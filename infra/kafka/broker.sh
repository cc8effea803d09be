#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft, combined broker+controller)
# on 127.0.0.1, run from Kafka's own jars fetched from Maven Central.
#
#   broker.sh fetch    download the jars (idempotent)
#   broker.sh start    fetch, format storage once, start, wait until it answers
#   broker.sh stop     stop the broker this script started (by PID)
#   broker.sh status   print "running <pid> <bootstrap>" or "stopped"
#   broker.sh reset    stop and delete the data folder
#
# Environment: MS_KAFKA_PORT (9092), MS_KAFKA_CONTROLLER_PORT (9093),
# MS_KAFKA_DATA (infra/kafka/data), MS_KAFKA_HEAP (512m),
# MS_KAFKA_START_TIMEOUT (60 seconds).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${MS_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${MS_KAFKA_CONTROLLER_PORT:-9093}"
DATA="${MS_KAFKA_DATA:-$HERE/data}"
HEAP="${MS_KAFKA_HEAP:-512m}"
START_TIMEOUT="${MS_KAFKA_START_TIMEOUT:-60}"
LIB="$HERE/lib"
PIDFILE="$DATA/broker.pid"
LOG="$DATA/broker.log"
CONFIG="$DATA/server.properties"

log() { echo "[local-kafka] $*" >&2; }

fetch() {
  if [[ -f "$LIB/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || { log "mvn not found: install Maven and a JDK (17+)"; exit 1; }
  log "fetching Apache Kafka jars from Maven Central into $LIB"
  rm -rf "$LIB"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$LIB" -DincludeScope=runtime >&2
  touch "$LIB/.complete"
}

running_pid() {
  # Prints the PID only if the recorded process is alive and is our broker.
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$CONFIG"; then
    echo "$pid"
    return 0
  fi
  log "removing stale PID file ($pid)"
  rm -f "$PIDFILE"
  return 1
}

write_config() {
  mkdir -p "$DATA/logs"
  cat >"$CONFIG" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA}/logs
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
message.max.bytes=8388608
EOF
  cat >"$DATA/log4j2.properties" <<'EOF'
rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka.server.KafkaRaftServer
logger.kafka.level=INFO
logger.broker.name=kafka.server.BrokerServer
logger.broker.level=INFO
EOF
}

JAVA=(java -Xms128m "-Xmx${HEAP}" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$DATA/log4j2.properties" -cp "$LIB/*")

format_storage() {
  if [[ -f "$DATA/logs/meta.properties" ]]; then return 0; fi
  local cluster_id
  cluster_id="$("${JAVA[@]}" kafka.tools.StorageTool random-uuid)"
  log "formatting KRaft storage (cluster $cluster_id)"
  "${JAVA[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" >&2
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start() {
  local pid
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on 127.0.0.1:$PORT"
    echo "127.0.0.1:$PORT"
    return 0
  fi
  if port_open; then
    log "port $PORT is taken by another process; set MS_KAFKA_PORT"
    exit 1
  fi
  fetch
  write_config
  format_storage
  : >"$LOG"
  # setsid: the broker outlives the shell that started it, and is not
  # killed with the caller's process group.
  setsid "${JAVA[@]}" kafka.Kafka "$CONFIG" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  pid="$(cat "$PIDFILE")"
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q "Kafka Server started" "$LOG" 2>/dev/null && port_open; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker exited during start; last lines of $LOG:"
      tail -n 30 "$LOG" >&2
      rm -f "$PIDFILE"
      exit 1
    fi
    if ((SECONDS > deadline)); then
      log "broker did not answer within ${START_TIMEOUT}s; see $LOG"
      exit 1
    fi
    sleep 0.2
  done
  log "started (pid $pid) on 127.0.0.1:$PORT"
  echo "127.0.0.1:$PORT"
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
    log "broker did not stop in 30s; killing pid $pid"
    kill -KILL "$pid"
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

status() {
  local pid
  if pid="$(running_pid 2>/dev/null)"; then
    echo "running $pid 127.0.0.1:$PORT"
  else
    echo "stopped"
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$DATA" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
