#!/usr/bin/env bash
# archive-bench: the checkpoint archive (issue 23) against a real S3 API server, in one run:
#   - upload and fetch throughput of a checkpoint of --size-mib MiB of random bytes through the
#     archive, against one raw S3 PUT and one raw GET of the same bytes on the same server;
#   - dedup: --clones VMs from one golden snapshot on a real agent given the archive, one
#     checkpoint each, uploaded by the agent: bytes stored against the checkpoints' bytes.
# Prints markdown tables (docs/benchmarks.md has results).
#
#   deploy/bench/archive-bench.sh [--size-mib 256] [--rounds 3] [--clones 10] [--mem-mib 128]
#
# Builds what is missing (as agent-bench.sh), starts s3proxy (the tests' S3 server, over a
# directory in the work directory, with a key pair of its own) and one agent with
# --checkpoint-archive pointing at it; the client is dev.noid.agent.bench.ArchiveBench. On the
# way out the server, the agent, its VMs and all state are removed.
#
# Environment: see deploy/bench/bench-lib.sh.
set -euo pipefail

BENCH=archive-bench
BENCH_CLASS=ArchiveBench
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
ARGS=("$@")

bench_check_args --size-mib --rounds --clones --mem-mib -- "${ARGS[@]}"

bench_setup

S3_DIR=$WORK/s3
S3_PORT=$(free_port)
BUCKET=noid-bench
SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$S3_DIR/data/$BUCKET"
(umask 077; printf '[default]\naws_access_key_id = bench\naws_secret_access_key = %s\n' "$SECRET" \
  >"$S3_DIR/credentials")
cat >"$S3_DIR/s3proxy.conf" <<CONF
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=bench
s3proxy.credential=$SECRET
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3_DIR/data
jclouds.identity=bench
jclouds.credential=unused
CONF
say "starting s3proxy on 127.0.0.1:$S3_PORT"
# Its own process group, stopped with the agents on the way out.
setsid "$NOID_JAVA" -cp "$CLASSPATH" org.gaul.s3proxy.Main --properties "$S3_DIR/s3proxy.conf" \
  >"$WORK/s3proxy.out" 2>&1 </dev/null &
AGENT_PIDS+=($!)
S3_PID=$!
for _ in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" || true)" != 000 ] && break
  kill -0 "$S3_PID" 2>/dev/null || die "s3proxy exited during start-up (log: $WORK/s3proxy.out)"
  sleep 0.2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" || true)" != 000 ] \
  || die "s3proxy did not answer within 60 s (log: $WORK/s3proxy.out)"

bench_start_agent archive --golden on-demand \
  --checkpoint-archive "s3://$BUCKET/fleet?endpoint=http://127.0.0.1:$S3_PORT&path_style=true" \
  --checkpoint-archive-credentials "$S3_DIR/credentials"

"$NOID_JAVA" -cp "$CLASSPATH" dev.noid.agent.bench.ArchiveBench \
  --agent-address "localhost:$AGENT_PORT" --agent-state-dir "$AGENT_STATE" \
  --work-dir "$WORK/client" --s3-endpoint "http://127.0.0.1:$S3_PORT" \
  --s3-credentials "$S3_DIR/credentials" --bucket "$BUCKET" "${ARGS[@]}"
