# shellcheck shell=bash
# Shared by the agent benchmarks (sourced, not run): building what is missing, throwaway agents
# on temporary state directories with free ports, and cleaning all of it up on the way out.
#
# The sourcing script sets BENCH (its name, for messages) and BENCH_CLASS (the benchmark main
# in node-agent's test classes, e.g. AgentBench), then calls bench_setup, bench_start_agent
# (once per agent) and runs "$NOID_JAVA" -cp "$CLASSPATH" ... itself.
#
# Environment: JAVA_HOME (a JDK >= 21; else the newest found), NOID_IMAGES_DIR (default
# ~/.cache/noid/images), NOID_QEMU (default qemu-system-x86_64), NOID_BENCH_REBUILD=1 to
# rebuild even when the jar exists, NOID_BENCH_KEEP=1 to keep the state and logs.

# shellcheck disable=SC2153 # BENCH and BENCH_CLASS come from the sourcing script
REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
IMAGES=${NOID_IMAGES_DIR:-$HOME/.cache/noid/images}
QEMU=${NOID_QEMU:-qemu-system-x86_64}
AGENT_PIDS=()
STATE_DIRS=()

say() { printf '%s: %s\n' "$BENCH" "$*" >&2; }
die() { printf '%s: %s\n' "$BENCH" "$*" >&2; exit 1; }

bench_cleanup() {
  local rc=$?
  for pid in "${AGENT_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  # VMMs run in their own sessions (they outlive an agent on purpose): stop each by its pid
  # file, VMs' and golden snapshot builds' alike.
  for state in "${STATE_DIRS[@]}"; do
    for pidfile in "$state"/vms/*/vmm.pid "$state"/golden/.build-*/vmm.pid; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$state"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  done
  if [ "${NOID_BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
    say "state and logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}

# Builds what is missing, makes $WORK and $CLASSPATH (copies: a build running meanwhile must
# not swap classes under the run).
bench_setup() {
  command -v "$QEMU" >/dev/null 2>&1 || die "$QEMU not found (apt-get install qemu-system-x86)"
  # shellcheck source=/dev/null
  source "$REPO/deploy/bin/noid-java"
  noid_find_java
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$NOID_JAVA")")")
  export JAVA_HOME
  local agent_jar=$REPO/node-agent/target/noid-agent.jar
  local bench_class=$REPO/node-agent/target/test-classes/dev/noid/agent/bench/$BENCH_CLASS.class
  if [ "${NOID_BENCH_REBUILD:-0}" = 1 ] || [ ! -f "$agent_jar" ] || [ ! -f "$bench_class" ]; then
    say "building the agent and the benchmark client"
    # Offline first (a built tree has everything); online only if something is missing.
    bench_mvn -o install -DskipTests -pl node-agent -am >/dev/null 2>&1 \
      || bench_mvn install -DskipTests -pl node-agent -am
  fi
  [ -f "$IMAGES/dev/image.json" ] || "$REPO/deploy/image/build-dev-image.sh" "$IMAGES/dev"

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/noid-bench.XXXXXX")
  trap bench_cleanup EXIT INT TERM
  say "classpath of the benchmark client"
  local classpath=(dependency:build-classpath -pl node-agent -Dmdep.includeScope=test
    "-Dmdep.outputFile=$WORK/classpath.txt")
  bench_mvn -o "${classpath[@]}" >/dev/null 2>&1 || bench_mvn "${classpath[@]}" >/dev/null
  cp "$agent_jar" "$WORK/noid-agent.jar"
  cp -r "$REPO/node-agent/target/classes" "$WORK/classes"
  cp -r "$REPO/node-agent/target/test-classes" "$WORK/test-classes"
  # shellcheck disable=SC2034 # read by the sourcing script
  CLASSPATH="$WORK/test-classes:$WORK/classes:$(cat "$WORK/classpath.txt")"
}

# bench_check_args OPTION... -- ARG...: every ARG is one of the OPTIONs and a positive number.
bench_check_args() {
  local known=()
  while [ "$1" != "--" ]; do
    known+=("$1")
    shift
  done
  shift
  while [ $# -gt 0 ]; do
    local ok=0
    for k in "${known[@]}"; do [ "$1" = "$k" ] && ok=1; done
    [ $ok = 1 ] || die "unknown option '$1' (known: ${known[*]/%/ N})"
    [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive number"
    shift 2
  done
}

bench_mvn() { (cd "$REPO" && ./mvnw -q -B "$@"); }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# bench_start_agent NAME [AGENT OPTION...]: an agent with state in $WORK/NAME; sets
# AGENT_STATE and AGENT_PORT for the caller and returns once its CA exists (the client waits
# for the listener itself).
bench_start_agent() {
  local name=$1
  shift
  AGENT_STATE=$WORK/$name
  AGENT_PORT=$(free_port)
  local metrics_port
  metrics_port=$(free_port)
  mkdir -p "$AGENT_STATE"
  STATE_DIRS+=("$AGENT_STATE")
  say "starting agent $name on $AGENT_STATE (gRPC port $AGENT_PORT)"
  # setsid: the agent is its own process group, so cleanup stops exactly it.
  setsid "$NOID_JAVA" --enable-native-access=ALL-UNNAMED -jar "$WORK/noid-agent.jar" serve \
    --node-name "$name" --state-dir "$AGENT_STATE" --grpc-port "$AGENT_PORT" \
    --metrics-port "$metrics_port" --image-dir "$IMAGES" --qemu-binary "$QEMU" --cpus 2 \
    --memory-mib 2048 "$@" >"$WORK/$name.out" 2>&1 </dev/null &
  AGENT_PIDS+=($!)
  local pid=$!
  for _ in $(seq 1 900); do
    [ -f "$AGENT_STATE/tls/standalone-ca-key.pem" ] && return 0
    kill -0 "$pid" 2>/dev/null || die "agent $name exited: $(tail -n 5 "$WORK/$name.out")"
    sleep 0.1
  done
  die "agent $name wrote no CA within 90 s"
}
