#!/usr/bin/env bash
# agent-bench: times a real noid-agent booting, checkpointing, restoring and cloning real
# guests, and exec round trips, and prints a markdown table (docs/benchmarks.md has results).
#
#   deploy/bench/agent-bench.sh [--iterations 5] [--execs 100] [--mem-mib 128]
#
# Builds the agent (and the benchmark client, in node-agent's test classes) if they are
# missing, builds the dev image if it is missing, starts an agent on a temporary state
# directory with free ports, runs the benchmark client (dev.noid.agent.bench.AgentBench)
# against it, and on the way out stops the agent and every VMM under that state directory
# and removes it (NOID_BENCH_KEEP=1 keeps it, with the agent's log, for a look).
#
# Environment: JAVA_HOME (a JDK >= 21; else the newest found), NOID_IMAGES_DIR (default
# ~/.cache/noid/images), NOID_QEMU (default qemu-system-x86_64), NOID_BENCH_REBUILD=1 to
# rebuild even when the jar exists.
set -euo pipefail

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
IMAGES=${NOID_IMAGES_DIR:-$HOME/.cache/noid/images}
QEMU=${NOID_QEMU:-qemu-system-x86_64}
ARGS=("$@")

say() { printf 'agent-bench: %s\n' "$*" >&2; }
die() { printf 'agent-bench: %s\n' "$*" >&2; exit 1; }

for ((i = 0; i < ${#ARGS[@]}; i += 2)); do
  case "${ARGS[i]}" in
  --iterations | --execs | --mem-mib)
    [[ "${ARGS[i + 1]:-}" =~ ^[1-9][0-9]*$ ]] || die "${ARGS[i]} needs a positive number"
    ;;
  *) die "unknown option '${ARGS[i]}' (known: --iterations N, --execs N, --mem-mib N)" ;;
  esac
done

command -v "$QEMU" >/dev/null 2>&1 || die "$QEMU not found (apt-get install qemu-system-x86)"
source "$REPO/deploy/bin/noid-java"
noid_find_java
JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$NOID_JAVA")")")
export JAVA_HOME

mvn() { (cd "$REPO" && ./mvnw -q -B "$@"); }
AGENT_JAR=$REPO/node-agent/target/noid-agent.jar
BENCH_CLASS=$REPO/node-agent/target/test-classes/dev/noid/agent/bench/AgentBench.class
if [ "${NOID_BENCH_REBUILD:-0}" = 1 ] || [ ! -f "$AGENT_JAR" ] || [ ! -f "$BENCH_CLASS" ]; then
  say "building the agent and the benchmark client"
  # Offline first (a built tree has everything); online only if something is missing.
  mvn -o install -DskipTests -pl node-agent -am >/dev/null 2>&1 \
    || mvn install -DskipTests -pl node-agent -am
fi
[ -f "$IMAGES/dev/image.json" ] || "$REPO/deploy/image/build-dev-image.sh" "$IMAGES/dev"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/noid-bench.XXXXXX")
STATE=$WORK/state
AGENT_PID=
cleanup() {
  local rc=$?
  if [ -n "$AGENT_PID" ]; then
    kill -TERM -- "-$AGENT_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$AGENT_PID" 2>/dev/null || true
  fi
  # VMMs run in their own sessions (they outlive an agent on purpose): stop each by its pid file.
  for pidfile in "$STATE"/vms/*/vmm.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$STATE"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ "${NOID_BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
    say "state and logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GRPC_PORT=$(free_port)
METRICS_PORT=$(free_port)

say "classpath of the benchmark client"
classpath=(dependency:build-classpath -pl node-agent -Dmdep.includeScope=test
  "-Dmdep.outputFile=$WORK/classpath.txt")
mvn -o "${classpath[@]}" >/dev/null 2>&1 || mvn "${classpath[@]}" >/dev/null
# Copies: a build running meanwhile (another shell, an IDE) must not swap classes under the run.
cp "$AGENT_JAR" "$WORK/noid-agent.jar"
cp -r "$REPO/node-agent/target/classes" "$WORK/classes"
cp -r "$REPO/node-agent/target/test-classes" "$WORK/test-classes"
CLASSPATH="$WORK/test-classes:$WORK/classes:$(cat "$WORK/classpath.txt")"

say "starting an agent on $STATE (gRPC port $GRPC_PORT)"
mkdir -p "$STATE"
# setsid: the agent is its own process group, so cleanup stops exactly it.
setsid "$NOID_JAVA" --enable-native-access=ALL-UNNAMED -jar "$WORK/noid-agent.jar" serve \
  --node-name bench --state-dir "$STATE" --grpc-port "$GRPC_PORT" --metrics-port "$METRICS_PORT" \
  --image-dir "$IMAGES" --qemu-binary "$QEMU" --cpus 2 --memory-mib 2048 \
  >"$WORK/agent.out" 2>&1 </dev/null &
AGENT_PID=$!
# The standalone CA key appears before the agent listens; the client waits for the listener.
for _ in $(seq 1 900); do
  [ -f "$STATE/tls/standalone-ca-key.pem" ] && break
  kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited: $(tail -n 5 "$WORK/agent.out")"
  sleep 0.1
done
[ -f "$STATE/tls/standalone-ca-key.pem" ] || die "the agent wrote no CA within 90 s"

"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.AgentBench \
  --address "localhost:$GRPC_PORT" --state-dir "$STATE" --work-dir "$WORK" \
  --qemu-binary "$QEMU" "${ARGS[@]}"
