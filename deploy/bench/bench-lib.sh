# shellcheck shell=bash
# Shared by the benchmarks (sourced, not run). For all: the JDK, a reactor build of a module
# and its test classpath that says why when it fails (bench_build), and a message naming the
# command when anything else fails. For the agent benchmarks: throwaway agents on temporary
# state directories with free ports, and cleaning all of it up on the way out.
#
# The sourcing script sets BENCH (its name, for messages). An agent benchmark also sets
# BENCH_CLASS (the benchmark main in node-agent's test classes, e.g. AgentBench), then calls
# bench_setup, bench_start_agent (once per agent) and runs "$NOID_JAVA" -cp "$CLASSPATH" ...
# itself.
#
# Nothing is installed into the local Maven repository: the project's own modules always come
# from this checkout's reactor (-pl MODULE -am), so a fresh clone builds and runs as it is.
#
# Environment: JAVA_HOME (a JDK >= 21; else the newest found), NOID_IMAGES_DIR (default
# ~/.cache/noid/images), NOID_QEMU (default qemu-system-x86_64), NOID_BENCH_KEEP=1 to keep the
# state and logs. Each run builds through the reactor (incremental: quick when up to date).

# shellcheck disable=SC2153 # BENCH and BENCH_CLASS come from the sourcing script
REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
IMAGES=${NOID_IMAGES_DIR:-$HOME/.cache/noid/images}
QEMU=${NOID_QEMU:-qemu-system-x86_64}
AGENT_PIDS=()
STATE_DIRS=()

say() { printf '%s: %s\n' "$BENCH" "$*" >&2; }
die() { printf '%s: %s\n' "$BENCH" "$*" >&2; exit 1; }
# Under set -e a failing command would end the run without a word: name it (once: not again
# from inside a command substitution, whose failure the outer command reports).
trap 'bench_rc=$?; [ "$BASH_SUBSHELL" != 0 ] || say "failed (exit $bench_rc) at line $LINENO: $BASH_COMMAND"' ERR
set -o errtrace

# bench_java: NOID_JAVA (a JDK >= 21) and JAVA_HOME for Maven.
bench_java() {
  # shellcheck source=/dev/null
  source "$REPO/deploy/bin/noid-java"
  noid_find_java
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$NOID_JAVA")")")
  export JAVA_HOME
}

# bench_build MODULE CLASSPATH_FILE: packages MODULE and what it needs through the reactor
# (offline first: a built tree has everything; online only if something is missing) and
# writes MODULE's test classpath to CLASSPATH_FILE. On failure, shows the end of Maven's log.
bench_build() {
  local module=$1 out=$2 log
  log=$(dirname "$out")/build.log
  local build=(package -DskipTests -pl "$module" -am dependency:build-classpath
    -Dmdep.includeScope=test "-Dmdep.outputFile=$out")
  say "building $module and the benchmark (reactor build, nothing installed; log: $log)"
  local ok=0
  bench_mvn -o "${build[@]}" >"$log" 2>&1 && ok=1
  # Online only when the offline build was short of a download: a compile error stays one.
  if [ $ok = 0 ] && grep -qiE "offline|could not resolve|not been downloaded|no plugin found" "$log"; then
    say "the offline build is missing a download; building online"
    bench_mvn "${build[@]}" >"$log" 2>&1 && ok=1
  fi
  if [ $ok = 0 ]; then
    # Maven's errors up to its generic advice ("-> [Help 1]"), else the end of the log.
    local errors
    errors=$(awk '/^\[ERROR\] -> \[Help/ {exit} /^\[ERROR\] ./ {print}' "$log" | head -n 20)
    if [ -n "$errors" ]; then printf '%s\n' "$errors" >&2; else tail -n 20 "$log" >&2; fi
    die "the build failed (log: $log); try: ./mvnw -B -pl $module -am package -DskipTests"
  fi
  # With -am every module of the reactor writes the file; the module asked for comes last.
  [ -s "$out" ] || die "the build wrote no classpath for $module (log: $log)"
}

bench_cleanup() {
  local rc=$?
  for pid in "${AGENT_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  # VMMs run in their own sessions (they outlive an agent on purpose): stop each by its pid
  # file, VMs', warm pool VMs' (vms/.warm-*, which * does not match) and golden snapshot
  # builds' alike.
  for state in "${STATE_DIRS[@]}"; do
    for pidfile in "$state"/vms/*/vmm.pid "$state"/vms/.warm-*/vmm.pid \
      "$state"/golden/.build-*/vmm.pid; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$state"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  done
  # Raw QEMUs (no agent) that the benchmark client started and, having died, did not stop.
  for pidfile in "$WORK"/raw-qemu/*/qemu.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$WORK"; then
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

# Builds the agent and the benchmark client, makes $WORK and $CLASSPATH (copies: a build
# running meanwhile must not swap classes under the run).
bench_setup() {
  command -v "$QEMU" >/dev/null 2>&1 || die "$QEMU not found (apt-get install qemu-system-x86)"
  command -v python3 >/dev/null 2>&1 || die "python3 not found (apt-get install python3): free_port needs it"
  bench_java
  if [ ! -f "$IMAGES/dev/image.json" ]; then
    say "building the dev guest image in $IMAGES/dev"
    "$REPO/deploy/image/build-dev-image.sh" "$IMAGES/dev" \
      || die "could not build the dev guest image (deploy/image/build-dev-image.sh; 'deploy/dev/noid-dev up' installs what it needs)"
  fi
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/noid-bench.XXXXXX")
  trap bench_cleanup EXIT INT TERM
  bench_build node-agent "$WORK/classpath.txt"
  local bench_class=$REPO/node-agent/target/test-classes/dev/noid/agent/${BENCH_PACKAGE:-bench}/$BENCH_CLASS.class
  [ -f "$bench_class" ] || die "no benchmark class $BENCH_CLASS after the build ($bench_class)"
  cp "$REPO/node-agent/target/noid-agent.jar" "$WORK/noid-agent.jar"
  cp -r "$REPO/node-agent/target/classes" "$WORK/classes"
  cp -r "$REPO/node-agent/target/test-classes" "$WORK/test-classes"
  # shellcheck disable=SC2034 # read by the sourcing script
  CLASSPATH="$WORK/test-classes:$WORK/classes:$(cat "$WORK/classpath.txt")"
}

# bench_controller_setup PREFIX: for the controller's benchmarks (scale, HA): makes $WORK (kept
# on failure or with NOID_BENCH_KEEP=1), builds the controller jar and its test classes, copies
# them (a build running meanwhile must not swap classes under the run) and sets $CLASSPATH.
bench_controller_setup() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap bench_controller_cleanup EXIT INT TERM
  # Always through the reactor: sibling modules resolve to their own target/ jars, never to
  # whatever SNAPSHOT another checkout installed in ~/.m2.
  bench_build controller "$WORK/classpath.txt"
  cp "$REPO/controller/target/noid-controller.jar" "$WORK/noid-controller.jar"
  cp -r "$REPO/controller/target/test-classes" "$WORK/test-classes"
  cp -r "$REPO/controller/target/classes" "$WORK/classes"
  # shellcheck disable=SC2034 # read by the sourcing script
  CLASSPATH="$WORK/test-classes:$WORK/classes:$(cat "$WORK/classpath.txt")"
}

bench_controller_cleanup() {
  local rc=$?
  if [ "${NOID_BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
    say "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
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
    if [ "$1" = --image ]; then
      [[ "${2:-}" =~ ^[a-z][a-z0-9-]*$ ]] || die "--image needs an image name"
      [ -f "$IMAGES/$2/image.json" ] \
        || die "no image '$2' in $IMAGES (deploy/image/build-debian-image.sh builds debian-12)"
      shift 2
      continue
    fi
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
