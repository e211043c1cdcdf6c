#!/usr/bin/env bash
# ha-bench: controller high availability (issue 22). Three controllers (the real jar, each its
# own process) on a real PostgreSQL (Debian's package, started for the run), hollow agents that
# follow the leader, and the SDK given every controller. Reports, in one run:
#   - failover: SIGKILL the leader N times (default 10), from the kill to the first accepted
#     create sent after it, p50 and max; reference: one controller SIGKILLed and restarted at once;
#   - placements/s through CreateVms with 3 controllers against 1 controller on the same store.
# Prints markdown tables (docs/benchmarks.md has results).
#
#   deploy/bench/ha-bench.sh                 # 10 kills, 4,000 VMs per placement run
#   deploy/bench/ha-bench.sh --kills 3 --vms 1000
#
# Environment: JAVA_HOME (a JDK >= 21; else the newest found), NOID_BENCH_KEEP=1 keeps the work
# directory (stores' logs, controllers' output).
set -euo pipefail

BENCH=ha-bench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"

KILLS=10
VMS=4000
while [ $# -gt 0 ]; do
  case "$1" in
  --kills) [ $# -ge 2 ] || die "--kills needs a value"; KILLS=$2; shift 2 ;;
  --vms) [ $# -ge 2 ] || die "--vms needs a value"; VMS=$2; shift 2 ;;
  *) die "unknown option '$1' (see the header of $0)" ;;
  esac
done
[[ "$KILLS" =~ ^[1-9][0-9]*$ ]] || die "--kills must be a positive number; got '$KILLS'"
[[ "$VMS" =~ ^[1-9][0-9]*$ ]] || die "--vms must be a positive number; got '$VMS'"
# The bench places VMs in batches of 250: anything else would be rounded down, to nothing below it.
(( VMS % 250 == 0 )) || die "--vms must be a multiple of 250 (the bench's batch); got $VMS"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  || die "needs PostgreSQL's server binaries (Debian: apt-get install postgresql)"

bench_java

bench_controller_setup noid-ha

printf '\nMachine: %s vCPU (nproc), %s, %s MiB memory, kernel %s, %s, %s; load average before: %s\n' \
  "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  "$(($(grep MemTotal /proc/meminfo | awk '{print $2}') / 1024))" "$(uname -r)" \
  "$("$NOID_JAVA" -version 2>&1 | head -n 1)" \
  "$(ls -d /usr/lib/postgresql/*/ | tail -n 1 | xargs basename | sed 's/^/PostgreSQL /')" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"

"$NOID_JAVA" --enable-native-access=ALL-UNNAMED -Xmx1g \
  -Dnoid.controller.jar="$WORK/noid-controller.jar" -cp "$CLASSPATH" \
  dev.noid.controller.ha.HaBench "$WORK/run" "$KILLS" "$VMS"
