#!/usr/bin/env bash
# Builds the Noid debian-12 guest image: a Debian 12 (bookworm) root file
# system, debootstrap --variant=minbase plus the tools of the monitoring guide
# (procps, sysstat, iftop, iproute2), as an ext4 file the guest boots as /.
#
#   build-debian-image.sh [OUT_DIR]
#
# OUT_DIR defaults to ${NOID_IMAGES_DIR:-$HOME/.cache/noid/images}/debian-12.
# The kernel and initramfs are the dev image's, in OUT_DIR/../dev (build it
# first: build-dev-image.sh): its /init mounts the disk and switch_roots into
# it when the command line has noid.root=. Must run as root on Debian. The
# result is cached like the dev image: when OUT_DIR/image.json records the
# same inputs_sha256, it prints "debian-12 image up to date: OUT_DIR".
# See docs/guest-image.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT="$HERE/$(basename "${BASH_SOURCE[0]}")"
OUT_DIR="${1:-${NOID_IMAGES_DIR:-$HOME/.cache/noid/images}/debian-12}"
OUT_DIR="$(realpath -m "$OUT_DIR")"
DEV_DIR="$(dirname "$OUT_DIR")/dev"
NAME=debian-12
SUITE=bookworm
INCLUDE=procps,sysstat,iftop,iproute2,iputils-ping,ca-certificates,netbase
CMDLINE="console=ttyS0 panic=-1 quiet noid.root=/dev/vda"
# Measured (TCG, 1 vCPU): 64 MiB does not boot; 80 boots with ~16 MiB available;
# 96, like the dev image, leaves ~35 MiB available for what a user runs.
MIN_MEM_MIB=96
# Free space in / of a VM that keeps the image's disk size (disk_mib grows it).
HEADROOM_MIB=64

log() { echo "build-debian-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, and file ownership in the image)"

# The kernel and initramfs this image boots with; it is useless without them,
# so their absence fails the build even when the image itself is up to date.
for f in image.json vmlinuz initramfs.cpio.gz; do
	[ -s "$DEV_DIR/$f" ] || die "the dev image is not built: no $DEV_DIR/$f (run deploy/image/build-dev-image.sh $DEV_DIR first)"
done

INPUTS_SHA256="$(
	{
		echo "script $(sha256sum <"$SCRIPT" | cut -d' ' -f1)"
		echo "suite $SUITE include $INCLUDE"
	} | sha256sum | cut -d' ' -f1
)"

up_to_date() {
	[ -f "$OUT_DIR/image.json" ] &&
		grep -q "\"inputs_sha256\": *\"$INPUTS_SHA256\"" "$OUT_DIR/image.json" &&
		[ -s "$OUT_DIR/rootfs.ext4" ]
}

# An older dev initramfs ignores noid.root= and would boot its own shell with
# this disk on /data: a guest without the tools, and no error anywhere.
check_dev_boots_root() {
	local files # not grep -q in the pipe: its early exit would fail the pipe (pipefail)
	files="$(gzip -dc "$DEV_DIR/initramfs.cpio.gz" | cpio -it --quiet 2>/dev/null)" || files=""
	grep -qx etc/noid/root-init <<<"$files" ||
		die "$DEV_DIR/initramfs.cpio.gz cannot boot a root disk (no /etc/noid/root-init): rebuild it with deploy/image/build-dev-image.sh $DEV_DIR"
}

if up_to_date; then
	check_dev_boots_root
	echo "$NAME image up to date: $OUT_DIR"
	exit 0
fi

# --- host tools -------------------------------------------------------------------
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
command -v cpio >/dev/null || missing+=(cpio)
command -v flock >/dev/null || missing+=(util-linux)
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
			die "cannot install ${missing[*]}"
	fi
fi
check_dev_boots_root

# The archive apt on this host uses (a local mirror or proxy would be there);
# NOID_DEBIAN_MIRROR overrides it.
host_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
		grep -v '^[[:space:]]*#' | grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | head -n1 | tr -d ' ' || true
}
MIRROR="${NOID_DEBIAN_MIRROR:-$(host_mirror)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
MIRROR="${MIRROR%/}"

# One build per OUT_DIR at a time; whoever waited re-checks the cache.
mkdir -p "$(dirname "$OUT_DIR")"
exec 9>"$OUT_DIR.lock"
flock 9
if up_to_date; then
	echo "$NAME image up to date: $OUT_DIR"
	exit 0
fi

START=$(date +%s)
TMP="$OUT_DIR.tmp.$$"
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
rm -rf "$TMP"
mkdir -p "$TMP"
ROOT="$TMP/root"

# --- root file system ---------------------------------------------------------------
log "debootstrap --variant=minbase $SUITE from $MIRROR (+ $INCLUDE)"
if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" >"$TMP/debootstrap.log" 2>&1; then
	tail -n 20 "$TMP/debootstrap.log" >&2
	[ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 20 "$ROOT/debootstrap/debootstrap.log" >&2
	die "debootstrap failed (above: the end of its log)"
fi

# Size: what apt and dpkg keep for themselves, and documentation nobody reads
# in a VM. Kept out of later installs too (dpkg path-exclude), as Debian's
# slim container images do.
rm -rf "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* \
	"$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
	"$ROOT"/usr/share/lintian "$ROOT"/usr/share/linda "$ROOT"/var/log/*.log \
	"$ROOT"/var/log/apt/* "$ROOT"/debootstrap
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/noid-slim" <<'EOF'
# Written by Noid's build-debian-image.sh: keep the guest image small.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
# Updates come from the security and -updates suites too, once `apt-get update` ran.
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF
# debootstrap copies these from the build host; they are not the guest's.
: >"$ROOT/etc/resolv.conf"
echo noid >"$ROOT/etc/hostname"

# --- ext4 file --------------------------------------------------------------------
used_mib=$(($(du -sxk "$ROOT" | cut -f1) / 1024))
files=$(find "$ROOT" -xdev | wc -l)
# ext4's own metadata (journal, inode tables, bitmaps) is ~10% at this size.
size_mib=$((used_mib + used_mib / 10 + HEADROOM_MIB))
truncate -s "${size_mib}M" "$TMP/rootfs.ext4"
mkfs.ext4 -q -F -L "$NAME" -N $((files * 2 + 8192)) -d "$ROOT" "$TMP/rootfs.ext4" ||
	die "mkfs.ext4 -d failed for ${used_mib} MiB in $files files on ${size_mib} MiB"

cat >"$TMP/image.json" <<EOF
{
  "name": "$NAME",
  "kernel": "../dev/vmlinuz",
  "initramfs": "../dev/initramfs.cpio.gz",
  "disk": "rootfs.ext4",
  "cmdline": "$CMDLINE",
  "min_mem_mib": $MIN_MEM_MIB,
  "debian_suite": "$SUITE",
  "inputs_sha256": "$INPUTS_SHA256"
}
EOF

# --- install ----------------------------------------------------------------------
# image.json goes last: until it is in place the cache key cannot match.
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR/image.json"
mv -f "$TMP/rootfs.ext4" "$OUT_DIR/rootfs.ext4"
mv -f "$TMP/image.json" "$OUT_DIR/image.json"
log "rootfs.ext4 ${size_mib} MiB (${used_mib} MiB in $files files)," \
	"$(($(du -k "$OUT_DIR/rootfs.ext4" | cut -f1) / 1024)) MiB on disk"
echo "$NAME image built in $(($(date +%s) - START)) s: $OUT_DIR"
