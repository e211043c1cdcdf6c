#!/usr/bin/env bash
# Builds the Noid dev guest image: a Debian cloud kernel, a busybox initramfs
# with the Noid guest agent, and an empty ext4 data disk.
#
#   build-dev-image.sh [OUT_DIR]
#
# OUT_DIR defaults to ${NOID_IMAGE_DIR:-$HOME/.cache/noid/images/dev}.
# Must run as root on Debian 12 (it may apt-get install its build tools, and
# it creates device nodes for the initramfs). The result is cached: when
# OUT_DIR/image.json records the same inputs_sha256 and every file is there,
# it prints "dev image up to date: OUT_DIR" and does nothing else.
# See docs/guest-image.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT="$HERE/$(basename "${BASH_SOURCE[0]}")"
INIT_SRC="$HERE/init"
ROOT_INIT_SRC="$HERE/root-init"
AGENT_DIR="$HERE/guest-agent"
AGENT_SRC="$AGENT_DIR/noid-guest-agent.c"
OUT_DIR="${1:-${NOID_IMAGE_DIR:-$HOME/.cache/noid/images/dev}}"
KERNEL_META=linux-image-cloud-amd64
CMDLINE="console=ttyS0 panic=-1 quiet"
MIN_MEM_MIB=96
DISK_MIB=64

# Modules the image needs (their dependencies are added from modinfo).
# Optional ones may be missing from a kernel, or be built in. vsock_loopback
# lets the guest reach its own agent over vsock (noid-guest-agent probe), so the
# vsock side can be checked where no host has a vsock device (QEMU here).
REQUIRED_MODULES="virtio_ring virtio virtio_pci virtio_console virtio_blk virtio_net
  vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport"
OPTIONAL_MODULES="virtio_pci_modern_dev virtio_pci_legacy_dev virtio_rng vsock_loopback"

log() { echo "build-dev-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -f "$INIT_SRC" ] || die "missing $INIT_SRC"
[ -f "$ROOT_INIT_SRC" ] || die "missing $ROOT_INIT_SRC"
[ -f "$AGENT_SRC" ] || die "missing $AGENT_SRC"

apt_updated=0
apt_update_once() {
	if [ "$apt_updated" -eq 0 ]; then
		log "apt-get update"
		apt-get update -qq >&2
		apt_updated=1
	fi
}

# --- host tools ---------------------------------------------------------------
missing=()
dpkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
dpkg_installed busybox-static || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
command -v gcc >/dev/null || missing+=(gcc)
[ -e /usr/include/stdio.h ] && ls /usr/lib/*/libc.a >/dev/null 2>&1 || missing+=(libc6-dev)
command -v modinfo >/dev/null || missing+=(kmod)
command -v flock >/dev/null || missing+=(util-linux)
install_pkgs() {
	log "installing $*"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2; then
		apt_update_once
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
	fi
}
if [ "${#missing[@]}" -gt 0 ]; then
	install_pkgs "${missing[@]}"
fi

# --- cache key (cheap: no downloads) -------------------------------------------
# One apt-cache call (each one costs ~0.7 s when apt's binary cache is off, as
# in Debian's container images): the metapackage pins the versioned kernel
# package exactly, e.g. "Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)".
resolve_kernel_pkg() {
	apt-cache show --no-all-versions "$KERNEL_META" 2>/dev/null | awk '
		$1 == "Depends:" {
			n = split(substr($0, 10), deps, ",")
			for (i = 1; i <= n; i++) {
				d = deps[i]; gsub(/^ +| +$/, "", d)
				if (d ~ /^linux-image-/) {
					split(d, w, /[ ()=]+/)
					print w[1], (w[2] != "" ? w[2] : "-")
					exit
				}
			}
		}'
}
read -r KERNEL_PKG KERNEL_PKG_VER < <(resolve_kernel_pkg || true) || true
if [ -z "${KERNEL_PKG:-}" ]; then
	# Empty apt lists (fresh machine): the only reason to touch the network here.
	apt_update_once
	read -r KERNEL_PKG KERNEL_PKG_VER < <(resolve_kernel_pkg || true) || true
fi
[ -n "${KERNEL_PKG:-}" ] || die "cannot resolve the package that $KERNEL_META depends on"
if [ "${KERNEL_PKG_VER:--}" = - ]; then
	# An unversioned dependency: ask for the candidate version.
	KERNEL_PKG_VER="$(apt-cache policy "$KERNEL_PKG" | awk '$1 == "Candidate:" { print $2; exit }')"
fi
if [ -z "$KERNEL_PKG_VER" ] || [ "$KERNEL_PKG_VER" = "(none)" ]; then
	die "no installable version of $KERNEL_PKG"
fi
BUSYBOX_VER="$(dpkg-query -W -f='${Version}' busybox-static)"

INPUTS_SHA256="$(
	{
		echo "script $(sha256sum <"$SCRIPT" | cut -d' ' -f1)"
		echo "init $(sha256sum <"$INIT_SRC" | cut -d' ' -f1)"
		echo "root-init $(sha256sum <"$ROOT_INIT_SRC" | cut -d' ' -f1)"
		(cd "$AGENT_DIR" && sha256sum -- *.c *.h)
		echo "kernel $KERNEL_PKG=$KERNEL_PKG_VER"
		echo "busybox-static $BUSYBOX_VER"
	} | sha256sum | cut -d' ' -f1
)"

up_to_date() {
	local f
	[ -f "$OUT_DIR/image.json" ] || return 1
	grep -q "\"inputs_sha256\": *\"$INPUTS_SHA256\"" "$OUT_DIR/image.json" || return 1
	for f in vmlinuz initramfs.cpio.gz disk.ext4; do
		[ -s "$OUT_DIR/$f" ] || return 1
	done
}

if up_to_date; then
	echo "dev image up to date: $OUT_DIR"
	exit 0
fi

# One build per OUT_DIR at a time; whoever waited re-checks the cache.
mkdir -p "$(dirname "$OUT_DIR")"
exec 9>"$OUT_DIR.lock"
flock 9
if up_to_date; then
	echo "dev image up to date: $OUT_DIR"
	exit 0
fi

START=$(date +%s)
TMP="$OUT_DIR.tmp.$$"
WORK="$(mktemp -d)"
cleanup() { rm -rf "$TMP" "$WORK"; }
trap cleanup EXIT
rm -rf "$TMP"
mkdir -p "$TMP"

# --- kernel ---------------------------------------------------------------------
log "kernel: $KERNEL_PKG $KERNEL_PKG_VER"
mkdir -p "$WORK/deb" "$WORK/kernel"
# apt-get download writes into the cwd; _apt cannot write to our private temp
# dir, hence the (harmless) "unsandboxed" warning that is filtered out.
(
	cd "$WORK/deb"
	apt-get download -qq "$KERNEL_PKG=$KERNEL_PKG_VER" 2>&1 | { grep -v 'unsandboxed' >&2 || true; }
) || die "apt-get download $KERNEL_PKG=$KERNEL_PKG_VER failed"
DEB="$(find "$WORK/deb" -name '*.deb' | head -n1)"
[ -n "$DEB" ] || die "apt-get download $KERNEL_PKG failed"
dpkg -x "$DEB" "$WORK/kernel"
VMLINUZ="$(find "$WORK/kernel/boot" -name 'vmlinuz-*' | head -n1)"
[ -n "$VMLINUZ" ] || die "no /boot/vmlinuz-* in $KERNEL_PKG"
KVER="${VMLINUZ##*/vmlinuz-}"
MODDIR="$WORK/kernel/lib/modules/$KVER"
[ -d "$MODDIR/kernel" ] || die "no modules for $KVER in $KERNEL_PKG"
cp "$VMLINUZ" "$TMP/vmlinuz"

# --- initramfs tree -------------------------------------------------------------
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc/noid,lib/modules,dev,proc,sys,tmp,run,data,root,mnt,var/log}
chmod 1777 "$ROOT/tmp"
chmod 700 "$ROOT/root"
ln -s ../run "$ROOT/var/run"

# Modules: find each by module name (file names may use '-' for '_', and may
# be compressed), follow "depends", and emit them in dependency order.
has_modules() { [ -n "$(find "$MODDIR/kernel" -name "*.ko.$1" -print -quit)" ]; }
if has_modules xz && ! command -v xz >/dev/null; then install_pkgs xz-utils; fi
if has_modules zst && ! command -v zstd >/dev/null; then install_pkgs zstd; fi
declare -A MOD_FILE=() MOD_DONE=()
MOD_ORDER=()
find_module() { # name -> path of the .ko (decompressed into $WORK/mods), or ""
	local name="$1" f base
	while IFS= read -r f; do
		base="${f##*/}"
		base="${base%%.ko*}"
		if [ "${base//-/_}" = "$name" ]; then
			mkdir -p "$WORK/mods"
			case "$f" in
			*.ko) cp "$f" "$WORK/mods/$name.ko" ;;
			*.ko.xz) xz -dc "$f" >"$WORK/mods/$name.ko" ;;
			*.ko.zst) zstd -qdc "$f" >"$WORK/mods/$name.ko" ;;
			*.ko.gz) gzip -dc "$f" >"$WORK/mods/$name.ko" ;;
			*) continue ;;
			esac
			echo "$WORK/mods/$name.ko"
			return 0
		fi
	done < <(find "$MODDIR/kernel" -name '*.ko*')
	echo ""
}
is_builtin() {
	[ -f "$MODDIR/modules.builtin" ] &&
		sed 's#.*/##; s#\.ko$##; s#-#_#g' "$MODDIR/modules.builtin" | grep -qx "$1"
}
add_module() { # name required(0/1)
	local name="$1" required="$2" file deps d
	[ -n "${MOD_DONE[$name]:-}" ] && return 0
	MOD_DONE[$name]=visiting
	file="$(find_module "$name")"
	if [ -z "$file" ]; then
		if is_builtin "$name"; then
			log "module $name: built in"
		elif [ "$required" = 1 ]; then
			die "module $name not found in $KERNEL_PKG"
		else
			log "module $name: not in this kernel, skipped"
		fi
		MOD_DONE[$name]=absent
		return 0
	fi
	deps="$(modinfo -F depends "$file" | tr ',' ' ')"
	MOD_FILE[$name]="$file"
	for d in $deps; do
		[ "${MOD_DONE[$d]:-}" = visiting ] && die "module dependency cycle at $d"
		add_module "$d" 1
	done
	MOD_ORDER+=("$name") # after its deps: post-order is a valid load order
	MOD_DONE[$name]="done"
}
for m in $REQUIRED_MODULES; do add_module "$m" 1; done
for m in $OPTIONAL_MODULES; do add_module "$m" 0; done
{
	echo "# NAME FILE, in load order (generated by build-dev-image.sh for $KVER)"
	for m in "${MOD_ORDER[@]}"; do
		cp "${MOD_FILE[$m]}" "$ROOT/lib/modules/$m.ko"
		echo "$m /lib/modules/$m.ko"
	done
} >"$ROOT/etc/noid/modules"
log "modules: ${MOD_ORDER[*]}"

# busybox and its applets.
cp /bin/busybox "$ROOT/bin/busybox"
nlinks=0
while IFS= read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$ROOT/$(dirname "$applet")"
	[ -e "$ROOT/$applet" ] || { ln -s /bin/busybox "$ROOT/$applet"; nlinks=$((nlinks + 1)); }
done < <(/bin/busybox --list-full)
log "busybox $BUSYBOX_VER: $nlinks applets"

# The guest agent.
gcc -static -O2 -Wall -Wextra -o "$ROOT/sbin/noid-guest-agent" "$AGENT_DIR"/*.c
strip "$ROOT/sbin/noid-guest-agent" 2>/dev/null || true

install -m 0755 "$INIT_SRC" "$ROOT/init"
# /init copies it onto a root disk's /run when booting one (noid.root=).
install -m 0755 "$ROOT_INIT_SRC" "$ROOT/etc/noid/root-init"

cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
echo noid >"$ROOT/etc/hostname"
echo /bin/sh >"$ROOT/etc/shells"
cat >"$ROOT/etc/profile" <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root
[ -n "$TERM" ] || export TERM=linux
PS1='\u@\h:\w\$ '
EOF
printf '127.0.0.1\tlocalhost\n' >"$ROOT/etc/hosts"
: >"$ROOT/etc/resolv.conf"
cat >"$ROOT/etc/fstab" <<'EOF'
/dev/vda /data ext4 defaults 0 0
EOF
# The kernel opens /dev/console for /init before devtmpfs is mounted.
mknod -m 600 "$ROOT/dev/console" c 5 1
mknod -m 666 "$ROOT/dev/null" c 1 3

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 -n >"$TMP/initramfs.cpio.gz"

# --- data disk ------------------------------------------------------------------
truncate -s "${DISK_MIB}M" "$TMP/disk.ext4"
mkfs.ext4 -q -F -L noid-data "$TMP/disk.ext4"

cat >"$TMP/image.json" <<EOF
{
  "name": "dev",
  "kernel": "vmlinuz",
  "initramfs": "initramfs.cpio.gz",
  "disk": "disk.ext4",
  "cmdline": "$CMDLINE",
  "min_mem_mib": $MIN_MEM_MIB,
  "kernel_version": "$KVER",
  "inputs_sha256": "$INPUTS_SHA256"
}
EOF

# --- install --------------------------------------------------------------------
# image.json goes last: until it is in place the cache key cannot match, so an
# interrupted install is rebuilt next time rather than used.
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR/image.json"
for f in vmlinuz initramfs.cpio.gz disk.ext4 image.json; do
	mv -f "$TMP/$f" "$OUT_DIR/$f"
done
log "vmlinuz $(stat -c %s "$OUT_DIR/vmlinuz") bytes ($KVER)," \
	"initramfs.cpio.gz $(stat -c %s "$OUT_DIR/initramfs.cpio.gz") bytes," \
	"disk.ext4 ${DISK_MIB} MiB sparse"
echo "dev image built in $(($(date +%s) - START)) s: $OUT_DIR"
