#!/usr/bin/env bash
# End-to-end latency of `noid list` (JVM start-up included) against a running cluster:
# median and p90 over N runs, with the AppCDS archive and without it (the reference).
#   deploy/bench/cli-latency.sh [N]      (needs: deploy/dev/noid-dev up)
set -euo pipefail
N=${1:-20}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
noid="$here/../bin/noid"

measure() { # prints sorted milliseconds of N runs of `noid list`
  for _ in $(seq "$N"); do
    local s e
    s=$(date +%s%N)
    "$noid" list >/dev/null
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
  done | sort -n
}

stats() { # median and p90 of sorted numbers on stdin
  awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; p=a[int(NR*0.9+0.5)]; printf "median %d ms, p90 %d ms (n=%d)\n", m, p, NR}'
}

"$noid" list >/dev/null   # makes the archive if it is missing
echo "with AppCDS:    $(measure | stats)"
echo "without AppCDS: $(NOID_JAVA_OPTS='-Xshare:off' measure | stats)"
