#!/usr/bin/env bash
# transfer-bench: direct agent-to-agent checkpoint and image transfers (issue 24) against a raw TLS copy
# between the same two endpoints, in one run:
#   - direct: node-b pulls a --size-mib MiB checkpoint of random bytes from node-a with the
#     agent's own code: a grant signed as the controller signs it, the peer service's grant
#     check and export, gRPC over mutual TLS with the node certificates, every chunk and file
#     verified and written to disk;
#   - image: the same bytes as a fleet image node-a holds, taken by node-b's image cache from
#     node-a's AgentPeer.SendImage with an image grant, sha256 checked against the digest;
#   - raw: a plain TLS socket between the same two certificates copying the same file from
#     disk to disk;
#   - memory base: a 1 MiB checkpoint over a --size-mib MiB memory base, pulled once when
#     node-b lacks the base (carried) and once when it holds it (left out, the source proving
#     with an HMAC of the base that it holds it), in seconds.
# Both ends run in one JVM on loopback (the dev cluster's agents share one host too). Prints a
# markdown table (docs/benchmarks.md has results).
#
#   deploy/bench/transfer-bench.sh [--size-mib 256] [--rounds 3]
#
# Needs no guest and no cluster: builds the agent and its test classes through the reactor.
# Environment: see deploy/bench/bench-lib.sh.
set -euo pipefail

BENCH=transfer-bench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
ARGS=("$@")

bench_check_args --size-mib --rounds -- "${ARGS[@]}"

bench_java
WORK=$(mktemp -d "${TMPDIR:-/tmp}/noid-bench.XXXXXX")
trap bench_cleanup EXIT INT TERM
bench_build node-agent "$WORK/classpath.txt"
cp -r "$REPO/node-agent/target/classes" "$WORK/classes"
cp -r "$REPO/node-agent/target/test-classes" "$WORK/test-classes"
CLASSPATH="$WORK/test-classes:$WORK/classes:$(cat "$WORK/classpath.txt")"
mkdir -p "$WORK/run"

"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.TransferBench --work-dir "$WORK/run" "${ARGS[@]}"
