#!/usr/bin/env bash
# End-to-end latency of the noid CLI against the running dev cluster, with the JVM floor
# (`java -version`) measured in the same run, interleaved round by round so that both see the
# same machine load. Reports median and p90 of each command, their ratio to the floor, a
# breakdown (launcher, JVM start, connect, set-up, handshake, call) from NOID_TIMING=1, the
# first call with no daemon running (cold), and the in-process path (NOID_DAEMON=0).
#   deploy/bench/cli-latency.sh [ROUNDS]        (default 30; needs: deploy/dev/noid-dev up)
set -euo pipefail
N=${1:-30}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
noid="$repo/deploy/bin/noid"
die() { echo "cli-latency: $*" >&2; exit 1; }
VM=bench-cli

# --- what it needs -------------------------------------------------------------------------
source "$repo/deploy/bin/noid-java"
noid_find_java
[ "$NOID_JAVA_VERSION" -ge 21 ] || die "needs Java 21+"
if ! ls "$repo"/client/cli/target/noid.jar >/dev/null 2>&1; then
  echo "building the CLI (./mvnw package -pl client/cli -am)"
  (cd "$repo" && JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$NOID_JAVA")")") ./mvnw -q -B \
    -pl client/cli -am -Dmaven.test.skip=true package) || die "the CLI build failed (see above)"
fi
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 \
  || echo "note: no C compiler: the launcher uses the Java thin client (apt-get install gcc for the C one)"
"$noid" nodes list >/dev/null 2>&1 \
  || die "'noid nodes list' fails: start the dev cluster first (deploy/dev/noid-dev up); $("$noid" nodes list 2>&1 | tail -1)"
if ! "$noid" info "$VM" >/dev/null 2>&1; then
  echo "creating VM $VM for info/exec"
  "$noid" create "$VM" --mem 128 >/dev/null || die "cannot create VM $VM: $("$noid" create "$VM" 2>&1 | tail -1)"
  created=1
fi
cleanup() { [ "${created:-0}" = 1 ] && "$noid" destroy "$VM" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
tmp=$(mktemp -d)
trap cleanup EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
stats() { # file of numbers -> "median p90"
  sort -n "$1" | awk '{a[NR]=$1} END {printf "%d %d\n", a[int((NR+1)/2)], a[int(NR*0.9+0.5)]}'
}

CMDS=("list" "nodes list" "whoami" "info $VM" "exec $VM -- true")
key() { echo "$1" | tr ' ' '_' | tr -d -- '-'; }

# --- warm-up: the daemon running and its JIT past the first calls ---------------------------
for _ in 1 2 3 4 5; do for c in "${CMDS[@]}"; do $noid $c >/dev/null 2>&1 || true; done; done

# --- interleaved rounds ----------------------------------------------------------------------
echo "rounds: $N (each: java -version, then every command once, through the daemon)"
for _ in $(seq "$N"); do
  s=$(date +%s%N); "$NOID_JAVA" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -version >/dev/null 2>&1; ms "$s" >>"$tmp/floor"
  for c in "${CMDS[@]}"; do
    s=$(date +%s%N); $noid $c >/dev/null 2>&1 || die "'noid $c' failed"; ms "$s" >>"$tmp/$(key "$c")"
  done
done

# --- breakdown (NOID_TIMING=1) ----------------------------------------------------------------
field() { # $1 file of timing lines, $2 field name -> median
  grep -o "$2=[0-9.]*" "$1" | cut -d= -f2 | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int((NR+1)/2)]; else printf "-"}'
}
for _ in $(seq 10); do
  for c in "${CMDS[@]}"; do NOID_TIMING=1 $noid $c 2>>"$tmp/t-$(key "$c")" >/dev/null || true; done
  NOID_TIMING=1 NOID_DAEMON=0 $noid nodes list 2>>"$tmp/t-inproc" >/dev/null || true
done

# --- in-process path and cold start ---------------------------------------------------------
for _ in $(seq 5); do
  s=$(date +%s%N); NOID_DAEMON=0 $noid nodes list >/dev/null; ms "$s" >>"$tmp/inproc"
done
for _ in 1 2 3; do
  $noid daemon stop >/dev/null 2>&1 || true
  s=$(date +%s%N); $noid nodes list >/dev/null; ms "$s" >>"$tmp/cold"
done

read -r fm fp < <(stats "$tmp/floor")
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "java: $("$NOID_JAVA" -version 2>&1 | head -1)"
echo "client: $([ -x "${XDG_CACHE_HOME:-$HOME/.cache}/noid/noid-client-$HOSTTYPE" ] && echo C || echo Java) thin client + daemon"
echo
printf '| %-28s | %8s | %8s | %12s |\n' "command" "median" "p90" "median/floor"
printf '|%s|%s|%s|%s|\n' "------------------------------" "----------" "----------" "--------------"
printf '| %-28s | %5d ms | %5d ms | %12s |\n' "java -version (floor)" "$fm" "$fp" "1.0x"
for c in "${CMDS[@]}"; do
  read -r m p < <(stats "$tmp/$(key "$c")")
  printf '| %-28s | %5d ms | %5d ms | %11.1fx |\n' "noid $c" "$m" "$p" "$(awk -v a="$m" -v b="$fm" 'BEGIN {print a / b}')"
done
read -r m p < <(stats "$tmp/inproc")
printf '| %-28s | %5d ms | %5d ms | %11.1fx |\n' "NOID_DAEMON=0 noid nodes list" "$m" "$p" "$(awk -v a="$m" -v b="$fm" 'BEGIN {print a / b}')"
read -r m p < <(stats "$tmp/cold")
printf '| %-28s | %5d ms | %5d ms | %11.1fx |\n' "cold: first call, no daemon" "$m" "$p" "$(awk -v a="$m" -v b="$fm" 'BEGIN {print a / b}')"
echo
echo "breakdown, medians in ms (NOID_TIMING=1; through the daemon the channel is open, so no handshake):"
printf '| %-28s | %8s | %8s | %8s | %8s | %8s |\n' "command" "launcher" "connect" "set-up" "call" "total"
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "----------" "----------" "----------" "----------" "----------"
for c in "${CMDS[@]}"; do
  f=$tmp/t-$(key "$c")
  printf '| %-28s | %8s | %8s | %8s | %8s | %8s |\n' "noid $c" "$(field "$f" launcher)" "$(field "$f" connect)" \
    "$(field "$f" setup)" "$(field "$f" call)" "$(field "$f" daemon)"
done
f=$tmp/t-inproc
echo
echo "in-process (NOID_DAEMON=0 noid nodes list): launcher $(field "$f" launcher), JVM start $(field "$f" jvm)," \
  "set-up (picocli, config, channel) $(field "$f" setup), handshake + call $(field "$f" 'handshake+call') ms"
