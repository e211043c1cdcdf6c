#!/usr/bin/env bash
# agent-bench: times real noid-agents creating, checkpointing, restoring and cloning real
# guests under the old memory method (all RAM in the saved state, --restore-memory copy) and
# the new one (RAM in memory bases, mapped on demand) in one run, exec round trips, and raw
# QEMU saving and loading the same guest by hand; prints markdown tables (docs/benchmarks.md
# has results).
#
#   deploy/bench/agent-bench.sh [--iterations 5] [--execs 100] [--mem-mib 128]
#
# Builds the agent (and the benchmark client, in node-agent's test classes) if they are
# missing, builds the dev image if it is missing, starts two agents ("old" and "new") on
# temporary state directories with free ports, both with golden snapshots on demand (a
# create restores the golden snapshot; cold creates are golden-bench.sh's), runs the
# benchmark client (dev.noid.agent.bench.AgentBench) against them, and on the way out stops
# the agents, every VMM under their state directories and the raw QEMUs, and removes it all
# (NOID_BENCH_KEEP=1 keeps it, with the agents' logs, for a look).
#
# Environment: see deploy/bench/bench-lib.sh.
set -euo pipefail

BENCH=agent-bench
BENCH_CLASS=AgentBench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
ARGS=("$@")

bench_check_args --iterations --execs --mem-mib -- "${ARGS[@]}"

bench_setup
bench_start_agent old --golden on-demand --restore-memory copy
OLD_STATE=$AGENT_STATE
OLD_PORT=$AGENT_PORT
bench_start_agent new --golden on-demand
"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.AgentBench \
  --old-address "localhost:$OLD_PORT" --old-state-dir "$OLD_STATE" \
  --new-address "localhost:$AGENT_PORT" --new-state-dir "$AGENT_STATE" \
  --work-dir "$WORK" --image-dir "$IMAGES" --qemu-binary "$QEMU" "${ARGS[@]}"
