#!/usr/bin/env bash
# golden-bench: create from a golden snapshot against cold create, to exec-ready, on this
# machine in one run, and prints a markdown table with both figures and the ratio
# (docs/benchmarks.md has results).
#
#   deploy/bench/golden-bench.sh [--iterations 10] [--mem-mib 128] [--image dev|debian-12]
#
# Builds what is missing (as agent-bench.sh), starts two agents on temporary state
# directories: one with golden snapshots off (every create boots cold), one with them on
# demand (its first create builds the snapshot, which is reported apart). The benchmark client
# (dev.noid.agent.bench.GoldenBench) alternates creates between them, one guest at a time. On
# the way out both agents, their VMMs and their state are removed.
#
# Environment: see deploy/bench/bench-lib.sh.
set -euo pipefail

BENCH=golden-bench
BENCH_CLASS=GoldenBench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
ARGS=("$@")

bench_check_args --iterations --mem-mib --image -- "${ARGS[@]}"

bench_setup
bench_start_agent cold --golden off
COLD_STATE=$AGENT_STATE
COLD_PORT=$AGENT_PORT
bench_start_agent golden --golden on-demand
"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.GoldenBench \
  --cold-address "localhost:$COLD_PORT" --cold-state-dir "$COLD_STATE" \
  --golden-address "localhost:$AGENT_PORT" --golden-state-dir "$AGENT_STATE" \
  --work-dir "$WORK" --qemu-binary "$QEMU" "${ARGS[@]}"
