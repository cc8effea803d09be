#!/usr/bin/env bash
# Real Apache Kafka 4.x brokers (KRaft, each node broker and controller) on this
# machine, run from Kafka's own jars fetched from Maven Central: one by default, or a
# cluster of N nodes, each its own process, ports and data folder, with an N-voter
# controller quorum.
#
#   broker.sh fetch       download the jars (idempotent)
#   broker.sh start [I]   fetch, format storage once, start every node (or node I),
#                         wait until each answers; prints the bootstrap addresses
#   broker.sh stop [I]    stop the nodes this script started (or node I), by PID
#   broker.sh config [I]  print node I's (1's) server.properties; nothing is started
#   broker.sh status      one line per node: "running <pid> <host:port>" or "stopped <host:port>"
#   broker.sh reset       stop and delete the data folder
#
# Environment: MS_KAFKA_BROKERS (1), MS_KAFKA_PORT (9092), MS_KAFKA_CONTROLLER_PORT
# (9093) — node I listens on PORT+2(I-1) and CONTROLLER_PORT+2(I-1) —, MS_KAFKA_HOSTS
# (the nodes' addresses, space-separated; 127.0.0.1 each), MS_KAFKA_NETNS (a prefix:
# node I runs in the network namespace <prefix>I, which the caller made), MS_KAFKA_DATA
# (infra/kafka/data, or data-N-nodes; node I in <data>/node-I), MS_KAFKA_HEAP
# (512m), MS_KAFKA_START_TIMEOUT (60 seconds).
#
# With three or more nodes the internal topics are replicated three times with
# min.insync.replicas=2; topics of the catalogue get the same from `meterstream topics`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODES="${MS_KAFKA_BROKERS:-1}"
BASE_PORT="${MS_KAFKA_PORT:-9092}"
BASE_CONTROLLER_PORT="${MS_KAFKA_CONTROLLER_PORT:-9093}"
read -r -a HOSTS <<<"${MS_KAFKA_HOSTS:-}"
NETNS="${MS_KAFKA_NETNS:-}"
DEFAULT_DATA="$HERE/data"
if ((NODES > 1)); then DEFAULT_DATA="$HERE/data-${NODES}-nodes"; fi
ROOT="${MS_KAFKA_DATA:-$DEFAULT_DATA}"
HEAP="${MS_KAFKA_HEAP:-512m}"
START_TIMEOUT="${MS_KAFKA_START_TIMEOUT:-60}"
LIB="$HERE/lib"
REPLICAS=$((NODES < 3 ? NODES : 3))
MIN_ISR=$((NODES < 3 ? 1 : 2))

log() { echo "[local-kafka] $*" >&2; }

host_of() { echo "${HOSTS[$(($1 - 1))]:-127.0.0.1}"; }
port_of() { echo $((BASE_PORT + 2 * ($1 - 1))); }
controller_port_of() { echo $((BASE_CONTROLLER_PORT + 2 * ($1 - 1))); }
address_of() { echo "$(host_of "$1"):$(port_of "$1")"; }
data_of() { if ((NODES == 1)); then echo "$ROOT"; else echo "$ROOT/node-$1"; fi; }
pidfile_of() { echo "$(data_of "$1")/broker.pid"; }
config_of() { echo "$(data_of "$1")/server.properties"; }
log_of() { echo "$(data_of "$1")/broker.log"; }

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
  # Prints node $1's PID only if the recorded process is alive and is that node.
  local pidfile pid
  pidfile="$(pidfile_of "$1")"
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(config_of "$1")"; then
    echo "$pid"
    return 0
  fi
  log "node $1: removing stale PID file ($pid)"
  rm -f "$pidfile"
  return 1
}

voters() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do
    out+="${out:+,}$i@$(host_of "$i"):$(controller_port_of "$i")"
  done
  echo "$out"
}

render_config() {
  # Node $1's server.properties, on stdout.
  local node="$1" data host port cport
  data="$(data_of "$node")"
  host="$(host_of "$node")"
  port="$(port_of "$node")"
  cport="$(controller_port_of "$node")"
  cat <<EOF
process.roles=broker,controller
node.id=${node}
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${cport}
advertised.listeners=PLAINTEXT://${host}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${data}/logs
num.partitions=4
auto.create.topics.enable=false
default.replication.factor=${REPLICAS}
min.insync.replicas=${MIN_ISR}
replica.lag.time.max.ms=10000
offsets.topic.replication.factor=${REPLICAS}
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=${REPLICAS}
transaction.state.log.min.isr=${MIN_ISR}
share.coordinator.state.topic.replication.factor=${REPLICAS}
share.coordinator.state.topic.min.isr=${MIN_ISR}
group.initial.rebalance.delay.ms=0
log.retention.hours=168
message.max.bytes=8388608
EOF
}

write_config() {
  local node="$1" data
  data="$(data_of "$node")"
  mkdir -p "$data/logs"
  render_config "$node" >"$(config_of "$node")"
  cat >"$data/log4j2.properties" <<'EOF'
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

java_of() {
  JAVA=(java -Xms128m "-Xmx${HEAP}" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$(data_of "$1")/log4j2.properties" -cp "$LIB/*")
}

cluster_id() {
  # One id for every node of the cluster, made once.
  mkdir -p "$ROOT"
  if [[ ! -s "$ROOT/cluster.id" ]]; then
    java_of 1
    "${JAVA[@]}" kafka.tools.StorageTool random-uuid >"$ROOT/cluster.id"
  fi
  cat "$ROOT/cluster.id"
}

format_storage() {
  local node="$1" id
  if [[ -f "$(data_of "$node")/logs/meta.properties" ]]; then return 0; fi
  id="$(cluster_id)"
  log "node $node: formatting KRaft storage (cluster $id)"
  java_of "$node"
  "${JAVA[@]}" kafka.tools.StorageTool format -t "$id" -c "$(config_of "$node")" >&2
}

port_open() { (exec 3<>"/dev/tcp/$(host_of "$1")/$(port_of "$1")") 2>/dev/null; }

launch() {
  # Starts node $1 in the background unless it runs; nothing is waited for.
  local node="$1" pid prefix=()
  if pid="$(running_pid "$node")"; then
    log "node $node already running (pid $pid) on $(address_of "$node")"
    return 0
  fi
  if port_open "$node"; then
    log "$(address_of "$node") is taken by another process; set MS_KAFKA_PORT"
    exit 1
  fi
  write_config "$node"
  format_storage "$node"
  : >"$(log_of "$node")"
  if [[ -n "$NETNS" ]]; then prefix=(ip netns exec "$NETNS$node"); fi
  java_of "$node"
  # setsid: the broker outlives the shell that started it, and is not
  # killed with the caller's process group.
  setsid "${prefix[@]}" "${JAVA[@]}" kafka.Kafka "$(config_of "$node")" \
    >>"$(log_of "$node")" 2>&1 </dev/null &
  echo $! >"$(pidfile_of "$node")"
}

wait_started() {
  local node="$1" pid deadline=$((SECONDS + START_TIMEOUT))
  pid="$(cat "$(pidfile_of "$node")")"
  until grep -q "Kafka Server started" "$(log_of "$node")" 2>/dev/null && port_open "$node"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "node $node exited during start; last lines of $(log_of "$node"):"
      tail -n 30 "$(log_of "$node")" >&2
      rm -f "$(pidfile_of "$node")"
      exit 1
    fi
    if ((SECONDS > deadline)); then
      log "node $node did not answer within ${START_TIMEOUT}s; see $(log_of "$node")"
      exit 1
    fi
    sleep 0.2
  done
  log "node $node started (pid $pid) on $(address_of "$node")"
}

nodes() { if [[ -n "${1:-}" ]]; then echo "$1"; else seq 1 "$NODES"; fi; }

bootstrap() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do out+="${out:+,}$(address_of "$i")"; done
  echo "$out"
}

start() {
  local node
  fetch
  # every node first: a node's broker starts only once a majority of the voters runs
  for node in $(nodes "${1:-}"); do launch "$node"; done
  for node in $(nodes "${1:-}"); do wait_started "$node"; done
  bootstrap
}

stop_nodes() {
  # SIGTERM to every node first: the last node of a quorum cannot shut down in order alone.
  local node pid pids=() stopping=()
  for node in "$@"; do
    if pid="$(running_pid "$node")"; then
      kill -TERM "$pid"
      pids+=("$pid")
      stopping+=("$node")
    else
      log "node $node not running"
    fi
  done
  for _ in $(seq 1 150); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop in 30s; killing it"
      kill -KILL "$pid"
    fi
  done
  for node in "${stopping[@]}"; do
    rm -f "$(pidfile_of "$node")"
    log "node $node stopped"
  done
}

stop() {
  # shellcheck disable=SC2046
  stop_nodes $(nodes "${1:-}")
}

status() {
  local node pid
  for node in $(nodes ""); do
    if pid="$(running_pid "$node" 2>/dev/null)"; then
      echo "running $pid $(address_of "$node")"
    else
      echo "stopped $(address_of "$node")"
    fi
  done
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  status) status ;;
  config) render_config "${2:-1}" ;;
  reset) stop; rm -rf "$ROOT" ;;
  *) echo "usage: $0 fetch|start [node]|stop [node]|config [node]|status|reset" >&2; exit 2 ;;
esac
