#!/usr/bin/env bash
# scale-bench: the controller at fleet scale. Starts the real controller jar as its own process,
# joins hollow agents to it (real gRPC endpoints over mutual TLS with a simulated hypervisor,
# test code only), fills the fleet with VMs through the SDK in steps and reports creates per
# second, create latency, /health and /metrics latency, live heap and heartbeat CPU cost after
# each step, then a mixed load (create/destroy/checkpoint/list/exec/get). Prints markdown
# tables (docs/benchmarks.md has results).
#
#   deploy/bench/scale-bench.sh                         # 1,000 nodes, 1k/10k/100k VMs
#   deploy/bench/scale-bench.sh --curve                 # the same at 10, 100 and 1,000 nodes
#   deploy/bench/scale-bench.sh --quick                 # 10 nodes, 1k VMs: a smoke run
#   deploy/bench/scale-bench.sh --nodes 100 --vms 1000,5000 --concurrency 32 --hypervisor-ms 5
#   deploy/bench/scale-bench.sh --batch 500 --concurrency 8   # fill through CreateVms, 500 a call
#
# Other options go to dev.noid.controller.scale.ScaleBench: --users N, --mem-mib N,
# --idle-seconds N (heartbeat CPU window), --mixed-seconds N (0 = none), --probes N,
# --singles N (creates one at a time after each step, for the unloaded latency), --batch N (fill
# through CreateVms, N VMs a call; 0 = one CreateVm per VM, the default),
# --controller-jvm "-Xmx1g -XX:StartFlightRecording=filename=/tmp/c.jfr" (controller JVM flags),
# --controller-args "--max-heartbeats-per-second 0" (more flags for `noid-controller serve`).
#
# Environment: JAVA_HOME (a JDK >= 21; else the newest found), NOID_BENCH_JVM_OPTS (flags of the
# benchmark JVM, e.g. a JFR recording), NOID_BENCH_KEEP=1 to keep the work directory (store,
# logs). The controller and the benchmark are rebuilt (offline when possible) on every run.
set -euo pipefail

BENCH=scale-bench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"

RUNS=("--nodes 1000")
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
  --curve) RUNS=("--nodes 10" "--nodes 100" "--nodes 1000"); shift ;;
  --quick) RUNS=("--nodes 10 --vms 1000 --mixed-seconds 5 --idle-seconds 4 --singles 50"); shift ;;
  --nodes | --vms | --concurrency | --users | --mem-mib | --hypervisor-ms | --idle-seconds | \
    --mixed-seconds | --probes | --singles | --batch | --controller-jvm | --controller-args)
    [ $# -ge 2 ] || die "$1 needs a value"
    ARGS+=("$1" "$2"); shift 2 ;;
  *) die "unknown option '$1' (see the header of $0)" ;;
  esac
done

bench_java

bench_controller_setup noid-scale

printf '\nMachine: %s vCPU (nproc), %s, %s MiB memory, kernel %s, %s; load average before: %s\n' \
  "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  "$(($(grep MemTotal /proc/meminfo | awk '{print $2}') / 1024))" "$(uname -r)" \
  "$("$NOID_JAVA" -version 2>&1 | head -n 1)" "$(cut -d' ' -f1-3 /proc/loadavg)"

for run in "${RUNS[@]}"; do
  # shellcheck disable=SC2086 # $run and NOID_BENCH_JVM_OPTS are lists of words on purpose
  "$NOID_JAVA" --enable-native-access=ALL-UNNAMED -Xmx3g -XX:+UseG1GC ${NOID_BENCH_JVM_OPTS:-} -cp "$CLASSPATH" dev.noid.controller.scale.ScaleBench \
    --controller-jar "$WORK/noid-controller.jar" --work-dir "$WORK/run-$RANDOM" $run "${ARGS[@]}"
done
