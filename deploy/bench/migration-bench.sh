#!/usr/bin/env bash
# migration-bench: moving a running VM between two real agents (issue 24), in one run:
#   - live migration (noid migrate --no-fallback) of an idle --mem-mib guest, back and forth;
#   - today's checkpoint move (checkpoint, copy, restore on the other node) of the same guest;
#   - then transfer-bench's direct transfer against a raw TLS copy (--size-mib, same run).
# Both moves are measured the same way: the whole move as its caller sees it, and the pause
# as the guest's own CLOCK_MONOTONIC shows it against the host clock (read through the exec
# API before and after; the error is half the best round trip). Prints markdown tables
# (docs/benchmarks.md has results).
#
#   deploy/bench/migration-bench.sh [--rounds 5] [--mem-mib 256] [--size-mib 256]
#
# Starts its own controller and two agents (real QEMU guests, TCG here) on temporary state
# directories; needs the dev guest image, which 'deploy/dev/noid-dev up' builds.
# Environment: see deploy/bench/bench-lib.sh.
set -euo pipefail

BENCH=migration-bench
BENCH_CLASS=MigrationBench
BENCH_PACKAGE=it
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
ARGS=("$@")

bench_check_args --rounds --mem-mib --size-mib -- "${ARGS[@]}"
ROUNDS=5 MEM=256 SIZE=256
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2 ;;
    --mem-mib) MEM=$2 ;;
    --size-mib) SIZE=$2 ;;
  esac
  shift 2
done

bench_setup
CONTROLLER_JAR=$REPO/controller/target/noid-controller.jar
[ -f "$CONTROLLER_JAR" ] || die "no controller jar after the build ($CONTROLLER_JAR)"
cp "$CONTROLLER_JAR" "$WORK/noid-controller.jar"
mkdir -p "$WORK/run" "$WORK/transfer"

say "moving an idle ${MEM} MiB guest $ROUNDS times each way (live, then by checkpoint)"
"$NOID_JAVA" -Dnoid.controller.jar="$WORK/noid-controller.jar" \
  -Dnoid.agent.jar="$WORK/noid-agent.jar" -Dnoid.images.dir="$IMAGES" \
  -cp "$CLASSPATH" dev.noid.agent.it.MigrationBench --work-dir "$WORK/run" \
  --rounds "$ROUNDS" --mem-mib "$MEM"
echo
say "direct transfer against a raw TLS copy, $SIZE MiB"
"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.TransferBench --work-dir "$WORK/transfer" \
  --size-mib "$SIZE" --rounds 3
