#!/usr/bin/env bash
# Fleet images on the running dev cluster, each figure next to its reference measured in the
# same run on the same disk:
#   - import of the debian-12 ext4, and of the same root filesystem as a one-layer OCI image
#     (sent as an OCI layout directory), against `cp` of the ext4 file;
#   - the pull to a node: a create that must pull the image, against a create of the same image
#     on a node that holds it (the difference is the pull), and the pull as the agent logged it
#     against `cp` of the file;
#   - a VM's disk: its qcow2 overlay against the full copy each VM used to get.
# Prints a markdown table (docs/benchmarks.md has results).
#   deploy/bench/image-bench.sh [ROUNDS]      (default 3; needs: deploy/dev/noid-dev up)
set -euo pipefail
N=${1:-3}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "image-bench: ROUNDS must be a positive number" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
noid="$repo/deploy/bin/noid"
DEV=${NOID_DEV_DIR:-$repo/.dev}
IMAGES=${NOID_IMAGES_DIR:-$HOME/.cache/noid/images}
ROOTFS=$IMAGES/debian-12/rootfs.ext4
die() { echo "image-bench: $*" >&2; exit 1; }
say() { echo "image-bench: $*" >&2; }

# --- what it needs -------------------------------------------------------------------------
[ -f "$ROOTFS" ] || die "no $ROOTFS: run deploy/dev/noid-dev up (it builds debian-12)"
"$noid" nodes list >/dev/null 2>&1 \
  || die "'noid nodes list' fails: start the dev cluster first (deploy/dev/noid-dev up); $("$noid" nodes list 2>&1 | tail -1)"
for tool in debugfs e2label jq sha256sum gzip tar; do
  command -v "$tool" >/dev/null || die "needs $tool (deploy/dev/noid-dev up installs it)"
done
tmp=$(mktemp -d /var/tmp/noid-image-bench.XXXXXX)
names=()
vms=()
cleanup() {
  for v in "${vms[@]}"; do "$noid" destroy "$v" >/dev/null 2>&1 || true; done
  for n in "${names[@]}"; do "$noid" images remove "$n" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ok() { "$@" >"$tmp/out" 2>"$tmp/err" || die "$* failed: $(tail -n 3 "$tmp/err")"; }

# A copy of the image whose digest no node holds: the same filesystem under another label.
variant() { # $1 name -> path
  cp --sparse=always "$ROOTFS" "$tmp/$1.ext4"
  e2label "$tmp/$1.ext4" "$1"
  echo "$tmp/$1.ext4"
}

# The same root filesystem as a one-layer OCI image layout (what a registry or `docker save`
# would hold), built from the ext4 with debugfs (no mount) and tar.
say "making an OCI image of the debian-12 root filesystem"
mkdir -p "$tmp/rootfs" "$tmp/oci/blobs/sha256"
debugfs -R "rdump / $tmp/rootfs" "$ROOTFS" >/dev/null 2>&1
rm -rf "$tmp/rootfs/lost+found"
tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/layer.tar" .
diff_id=$(sha256sum <"$tmp/layer.tar" | cut -d' ' -f1)
gzip -1 -c "$tmp/layer.tar" >"$tmp/layer.tar.gz"
layer=$(sha256sum <"$tmp/layer.tar.gz" | cut -d' ' -f1)
mv "$tmp/layer.tar.gz" "$tmp/oci/blobs/sha256/$layer"
blob() { # $1 file -> digest hex (moved into the layout)
  local d; d=$(sha256sum <"$1" | cut -d' ' -f1); mv "$1" "$tmp/oci/blobs/sha256/$d"; echo "$d"
}
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$diff_id" >"$tmp/config.json"
csize=$(stat -c %s "$tmp/config.json"); config=$(blob "$tmp/config.json")
lsize=$(stat -c %s "$tmp/oci/blobs/sha256/$layer")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$csize" "$layer" "$lsize" >"$tmp/manifest.json"
msize=$(stat -c %s "$tmp/manifest.json"); manifest=$(blob "$tmp/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
  "$manifest" "$msize" >"$tmp/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$tmp/oci/oci-layout"
rm -f "$tmp/layer.tar"

: >"$tmp/cp"; : >"$tmp/ext4"; : >"$tmp/ocit"; : >"$tmp/pullcreate"; : >"$tmp/cachedcreate"; : >"$tmp/pull"
for i in $(seq 1 "$N"); do
  say "round $i/$N"
  file=$(variant "bench-$i-$$")
  t=$(date +%s%N); cp "$file" "$tmp/copy.ext4"; sync "$tmp/copy.ext4"; ms "$t" >>"$tmp/cp"; rm -f "$tmp/copy.ext4"

  names+=("bench-ext4-$i")
  t=$(date +%s%N); ok "$noid" images import "bench-ext4-$i" "$file"; ms "$t" >>"$tmp/ext4"
  names+=("bench-oci-$i")
  t=$(date +%s%N); ok "$noid" images import "bench-oci-$i" "$tmp/oci"; ms "$t" >>"$tmp/ocit"
  digest=$("$noid" images inspect "bench-ext4-$i" -o json | jq -r .digest)

  # node-a pulls the new image; then node-a creates it again from its cache.
  before=$(ls -d "$DEV"/node-a/vms/*/ 2>/dev/null | sort || true)
  vms+=("bench-pull-$i")
  t=$(date +%s%N); ok "$noid" create "bench-pull-$i" --image "bench-ext4-$i" --node node-a --disk 512M; ms "$t" >>"$tmp/pullcreate"
  vms+=("bench-cached-$i")
  t=$(date +%s%N); ok "$noid" create "bench-cached-$i" --image "bench-ext4-$i" --node node-a --disk 512M; ms "$t" >>"$tmp/cachedcreate"
  grep -h "pulled image $digest" "$DEV"/node-a/*.log 2>/dev/null | grep -o 'in [0-9]* ms' | tail -n 1 \
    | grep -o '[0-9]*' >>"$tmp/pull" || true

  # Only this round's VMs: the user's own VMs on node-a are not the benchmark's overlay.
  overlay=$(comm -13 <(printf '%s\n' "$before") <(ls -d "$DEV"/node-a/vms/*/ 2>/dev/null | sort) \
    | while read -r d; do if [ -f "$d/disk.img" ]; then du -k "$d/disk.img"; fi; done | sort -n | tail -n 1 | cut -f1)
  for v in "bench-pull-$i" "bench-cached-$i"; do "$noid" destroy "$v" >/dev/null 2>&1 || true; done
  vms=()
  rm -f "$file"
done

size_mib=$(( $(stat -c %s "$ROOTFS") >> 20 ))
full_kib=$(du -k "$ROOTFS" | cut -f1)
cp_ms=$(median <"$tmp/cp"); ext4_ms=$(median <"$tmp/ext4"); oci_ms=$(median <"$tmp/ocit")
pc_ms=$(median <"$tmp/pullcreate"); cc_ms=$(median <"$tmp/cachedcreate")
pull_ms=$( [ -s "$tmp/pull" ] && median <"$tmp/pull" || echo "?")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a ~ /^[0-9]+$/) printf "%.1fx", a / b; else print "?" }'; }
cat <<EOF
Machine: $(nproc) vCPU, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 )) MiB
Image: debian-12 rootfs.ext4, ${size_mib} MiB (${full_kib} KiB allocated); $N rounds, medians

| measurement | median | reference (same run) | ratio |
| --- | ---: | --- | ---: |
| import of the ext4 file (upload, check, store) | ${ext4_ms} ms | cp of the file: ${cp_ms} ms | $(ratio "$ext4_ms" "$cp_ms") |
| import of the same rootfs as an OCI layout (upload, skopeo, umoci, mkfs.ext4) | ${oci_ms} ms | cp of the ext4: ${cp_ms} ms | $(ratio "$oci_ms" "$cp_ms") |
| pull to node-a, as the agent logged it | ${pull_ms} ms | cp of the file: ${cp_ms} ms | $(ratio "$pull_ms" "$cp_ms") |
| create on a node that must pull the image | ${pc_ms} ms | create on a node that holds it: ${cc_ms} ms | $(ratio "$pc_ms" "$cc_ms") |
| a running VM's disk (qcow2 overlay), allocated | ${overlay:-?} KiB | full copy of the image: ${full_kib} KiB | $(ratio "$full_kib" "${overlay:-0}") smaller |
EOF
