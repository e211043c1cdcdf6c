#!/usr/bin/env bash
# fuzz: runs Jazzer in fuzzing mode over Noid's fuzz targets (issue 19), one after another,
# each for the duration its @FuzzTest declares (2-3 minutes). CI only replays the corpus kept
# in the repository (the inputs under src/test/resources/**/<Class>Inputs/); this finds new
# inputs.
#
#   deploy/bench/fuzz.sh            # every target
#   deploy/bench/fuzz.sh FrameFuzzTest PublicApiFuzzTest
#
# Targets: PublicApiFuzzTest (controller: every unary and server-streaming public RPC through
# the real services, fake agents), PublicStreamsFuzzTest (controller: ExecCommand and
# AttachConsole conversations), ConfigFileFuzzTest (controller config file),
# FrameFuzzTest (agent: the guest protocol reader), CheckpointImportFuzzTest (agent: a
# checkpoint import's manifest and chunks), GoldenManifestFuzzTest (agent: a golden snapshot's
# manifest.json). A finding fails the run; Jazzer writes its input
# as crash-<sha1> into the target's Inputs directory: fix the cause, rename the input to say
# what it is, and commit it, so CI replays it from then on.
set -euo pipefail

REPO="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
cd "$REPO"
# The JDK the launchers and the other scripts pick (JAVA_HOME, the usual JVM folders, PATH).
# shellcheck source=/dev/null
source "$REPO/deploy/bin/noid-java"
noid_find_java
[ "$NOID_JAVA_VERSION" -ge 25 ] || {
  echo "fuzz.sh: needs Java 25 or newer (set JAVA_HOME); the newest found is $NOID_JAVA_VERSION ($NOID_JAVA)" >&2
  exit 2
}
JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$NOID_JAVA")")")
export JAVA_HOME

declare -A MODULE=(
  [PublicApiFuzzTest]=controller [PublicStreamsFuzzTest]=controller [ConfigFileFuzzTest]=controller
  [FrameFuzzTest]=node-agent [CheckpointImportFuzzTest]=node-agent
  [GoldenManifestFuzzTest]=node-agent
)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(FrameFuzzTest CheckpointImportFuzzTest GoldenManifestFuzzTest ConfigFileFuzzTest PublicApiFuzzTest
    PublicStreamsFuzzTest)
fi
for t in "${targets[@]}"; do
  if [ -z "${MODULE[$t]:-}" ]; then
    echo "fuzz.sh: unknown target '$t'; known: ${!MODULE[*]}" >&2
    exit 2
  fi
done

failed=()
for t in "${targets[@]}"; do
  echo "== fuzzing $t (${MODULE[$t]})"
  if ! JAZZER_FUZZ=1 ./mvnw -B -q -pl "${MODULE[$t]}" -am test -Dtest="$t" \
      -Dsurefire.failIfNoSpecifiedTests=false; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (inputs written as crash-* under src/test/resources)" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
