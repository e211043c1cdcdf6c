#!/bin/bash
# VM creation benchmark (from the monitoring guide): times `noid create` and
# `noid checkpoint`, then destroys the VM and deletes its checkpoint.
#
# Environment:
#   NOID   the noid CLI to run, default `noid` from PATH (e.g. NOID=/opt/noid/bin/noid)
#
# Stops at the first failing command with its exit code; the benchmark VM and its
# checkpoint are removed on the way out if they were made.

set -euo pipefail

NOID="${NOID:-noid}"
if ! command -v "$NOID" >/dev/null 2>&1; then
  echo "noid-benchmark: noid CLI '$NOID' not found (set NOID=/path/to/noid)" >&2
  exit 127
fi

now() { date +%s.%N; }
# Seconds between two `date +%s.%N` stamps (awk: bc is often not installed).
elapsed() { awk -v start="$1" -v end="$2" 'BEGIN { printf "%.3f\n", end - start }'; }

created=0
checkpoint=""
cleanup() {
  rc=$?
  if [ "$created" = 1 ]; then
    echo "noid-benchmark: failed (exit code $rc), destroying benchmark-vm" >&2
    "$NOID" destroy benchmark-vm >&2 || true
  fi
  if [ -n "$checkpoint" ]; then
    # A checkpoint outlives its VM; each run would otherwise leave one (in the archive too).
    "$NOID" delete-checkpoint "$checkpoint" >/dev/null || rc=$((rc == 0 ? 1 : rc))
  fi
  exit "$rc"
}
trap cleanup EXIT

echo "Testing VM creation speed..."
start=$(now)
"$NOID" create benchmark-vm
end=$(now)
created=1
duration=$(elapsed "$start" "$end")

echo "VM created in ${duration}s"

# Checkpoint benchmark
start=$(now)
out=$("$NOID" checkpoint benchmark-vm snap1)
end=$(now)
echo "$out"
checkpoint=$(awk '$1 == "checkpoint" { print $2; exit }' <<<"$out")
duration=$(elapsed "$start" "$end")

echo "Checkpoint created in ${duration}s"

# Cleanup
"$NOID" destroy benchmark-vm
created=0
