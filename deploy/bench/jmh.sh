#!/usr/bin/env bash
# jmh: microbenchmarks of the controller's hot paths, with JMH (test sources of the controller,
# dev.noid.controller.scale.jmh and dev.noid.controller.observability.MetricsBench):
#   SchedulerBench.placeAndRelease  one scheduling decision and its release, 10/100/1,000 nodes
#   StoreBench.updateVm             one VM state change written through to SQLite
#   HeartbeatBench.heartbeat        one heartbeat applied (node entry + VM comparison), 1,000 nodes
#   MetricsBench.*                  /metrics fleet gauges and /health body, 1,000 nodes
#
#   deploy/bench/jmh.sh                       # all of them, 1 fork, 3 x 1 s warm-up, 5 x 1 s
#   deploy/bench/jmh.sh SchedulerBench -p nodes=1000 -f 2 -i 10   # any JMH options
#
# Environment: JAVA_HOME (a JDK >= 21; else the newest found).
set -euo pipefail

BENCH=jmh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
bench_java

WORK=$(mktemp -d "${TMPDIR:-/tmp}/noid-jmh.XXXXXX")
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT INT TERM
# A reactor build (nothing installed): sibling modules resolve to their own target/ jars.
bench_build controller "$WORK/classpath.txt"
cp -r "$REPO/controller/target/test-classes" "$WORK/test-classes"
cp -r "$REPO/controller/target/classes" "$WORK/classes"
CLASSPATH="$WORK/test-classes:$WORK/classes:$(cat "$WORK/classpath.txt")"

printf 'Machine: %s vCPU (nproc), %s, kernel %s, %s; load average before: %s\n' \
  "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(uname -r)" \
  "$("$NOID_JAVA" -version 2>&1 | head -n 1)" "$(cut -d' ' -f1-3 /proc/loadavg)"
[ $# -gt 0 ] || set -- 'dev.noid.controller.*Bench' -f 1 -wi 3 -w 1s -i 5 -r 1s
"$NOID_JAVA" --enable-native-access=ALL-UNNAMED -cp "$CLASSPATH" org.openjdk.jmh.Main \
  -jvmArgsAppend --enable-native-access=ALL-UNNAMED "$@"
