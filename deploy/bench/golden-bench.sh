#!/usr/bin/env bash
# golden-bench: cold create against create from a golden snapshot under the old memory method
# (all RAM in the saved state) and the new one (RAM mapped on demand from a memory base), to
# exec-ready; host memory of idle clones under both; and raw QEMU saving and loading the same
# guest by hand; on this machine in one run. Prints markdown tables with the figures and
# ratios (docs/benchmarks.md has results).
#
#   deploy/bench/golden-bench.sh [--iterations 10] [--clones 5] [--mem-mib 128] [--image dev|debian-12]
#
# Builds what is missing (as agent-bench.sh), starts three agents on temporary state
# directories: "cold" with golden snapshots off (every create boots cold), "old" with them on
# demand and --restore-memory copy, "new" with them on demand and the default memory method.
# The first create on each golden agent builds its snapshot and is reported apart. The
# benchmark client (dev.noid.agent.bench.GoldenBench) alternates creates among them, one guest
# at a time (and a fourth agent, new with --warm-pool 1, whose creates take over a VM restored
# ahead); then keeps --clones idle clones alive on old and new at once and reads their
# VMMs' smaps_rollup; then boots the guest with QEMU directly (no agent) for the raw figures.
# On the way out every agent, VMM and raw QEMU and their state are removed.
#
# Environment: see deploy/bench/bench-lib.sh.
set -euo pipefail

BENCH=golden-bench
BENCH_CLASS=GoldenBench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
ARGS=("$@")

bench_check_args --iterations --clones --mem-mib --image -- "${ARGS[@]}"

bench_setup
bench_start_agent cold --golden off
COLD_STATE=$AGENT_STATE
COLD_PORT=$AGENT_PORT
bench_start_agent old --golden on-demand --restore-memory copy
OLD_STATE=$AGENT_STATE
OLD_PORT=$AGENT_PORT
bench_start_agent warm --golden on-demand --warm-pool 1
WARM_STATE=$AGENT_STATE
WARM_PORT=$AGENT_PORT
bench_start_agent new --golden on-demand
"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.GoldenBench \
  --warm-address "localhost:$WARM_PORT" --warm-state-dir "$WARM_STATE" \
  --cold-address "localhost:$COLD_PORT" --cold-state-dir "$COLD_STATE" \
  --old-address "localhost:$OLD_PORT" --old-state-dir "$OLD_STATE" \
  --new-address "localhost:$AGENT_PORT" --new-state-dir "$AGENT_STATE" \
  --work-dir "$WORK" --image-dir "$IMAGES" --qemu-binary "$QEMU" "${ARGS[@]}"
