#!/usr/bin/env bash
# Prepares a Debian 12 or Ubuntu 24.04 machine for bpfkit, as root: installs the missing system packages
# (saying which), mounts tracefs and bpffs if needed, and builds the pinned static libbpf/libelf/zlib (scripts/deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "setup: run as root (it installs packages and loads BPF programs)" >&2; exit 1; }
. /etc/os-release
export DEBIAN_FRONTEND=noninteractive

packages=(clang llvm curl ca-certificates bzip2 make gcc g++ python3 iproute2 util-linux dpkg-dev strace systemtap-sdt-dev dwarves debootstrap qemu-user-static
	qemu-system-x86 busybox-static cpio kmod xz-utils valgrind)
backports=()
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
	# The BPF-side headers of libbpf 1.4 and bpftool 7.5 come from bookworm-backports (the addon itself links
	# the libbpf that deps.sh pins, whatever is installed here).
	list=/etc/apt/sources.list.d/bpfkit.list
	if [ ! -f "$list" ]; then
		echo "setup: adding bookworm-backports ($list)"
		echo "deb http://deb.debian.org/debian bookworm-backports main" >"$list"
		apt-get update -qq
	fi
	backports=(libbpf-dev bpftool)
else
	packages+=(libbpf-dev linux-tools-common)
fi

missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
missing_bpo=()
for p in "${backports[@]}"; do
	dpkg-query -W -f='${Version}' "$p" 2>/dev/null | grep -q 'bpo' || missing_bpo+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_bpo[@]} -gt 0 ]; then
	apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#missing_bpo[@]} -gt 0 ]; then
	echo "setup: installing ${missing_bpo[*]} from bookworm-backports"
	apt-get install -y -qq -t bookworm-backports "${missing_bpo[@]}" >/dev/null
fi
# The daemon tests run a real Prometheus server and promtool; its exporters (recommended) are not needed.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q 'ok installed'; then
	echo "setup: installing prometheus (server and promtool, without its recommended exporters)"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || { echo "setup: bpfkit needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2; exit 1; }

if [ ! -d /sys/kernel/tracing/events ]; then
	echo "setup: mounting tracefs on /sys/kernel/tracing"
	mount -t tracefs tracefs /sys/kernel/tracing
fi
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
	echo "setup: mounting bpffs on /sys/fs/bpf"
	mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
fi
[ -e /sys/kernel/btf/vmlinux ] || echo "setup: warning: this kernel has no BTF (/sys/kernel/btf/vmlinux); CO-RE objects need it" >&2

bash "$root/scripts/deps.sh"
