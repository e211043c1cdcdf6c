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
# and removes it (NOID_BENCH_KEEP=1 keeps it, with the agent's log, for a look). The agent
# runs with golden snapshots off: "create" here is a cold boot (golden-bench.sh compares).
#
# Environment: see deploy/bench/bench-lib.sh.
set -euo pipefail

BENCH=agent-bench
BENCH_CLASS=AgentBench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
ARGS=("$@")

bench_check_args --iterations --execs --mem-mib -- "${ARGS[@]}"

bench_setup
bench_start_agent bench --golden off
"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.AgentBench \
  --address "localhost:$AGENT_PORT" --state-dir "$AGENT_STATE" --work-dir "$WORK" \
  --qemu-binary "$QEMU" "${ARGS[@]}"
