# Fresh Debian roots for building prebuilds and testing installs (sourced by scripts/prebuild.sh and
# test/install/*.sh; needs root and debootstrap). A root is made once with debootstrap and cached as a
# tarball named by suite, package list and date; a cached one younger than BPFKIT_ROOT_MAX_AGE days
# (default 7) is reused.
#   debian_root SUITE DIR [PACKAGE...]   DIR becomes a fresh root of SUITE (minbase + PACKAGEs)
#   debian_sysroot SUITE ARCH DIR        DIR becomes the unpacked minbase of SUITE for another ARCH
#                                        (debootstrap's first stage): a sysroot for qemu-user
#   debian_root_cached SUITE [PACKAGE...], debian_sysroot_cached SUITE ARCH
#                                        only make sure the cache holds one (the scripts' --prefetch:
#                                        debootstrap waits on the network, so CI makes them early, side by side)
#   node_into DIR MAJOR|latest [ARCH]    unpacks an official Node (npm's node-linux-<arch>) and npm 10 into DIR/opt/node
#   in_root DIR COMMAND...               runs COMMAND in DIR, with /proc, /sys (bpffs, tracefs, BTF) and
#                                        /dev bound in a private mount namespace that ends with it
bpfkit_cache=${BPFKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfkit}
debian_mirror=${BPFKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# cache_tarball KEY WHAT MAKER [ARG...]: prints the newest cached KEY-<date>.tar younger than the
# maximum age, after making it when there is none (MAKER DIR ARG... fills an empty DIR; WHAT says what
# that is). One maker per key at a time: a second caller, e.g. a step while a prefetch makes the same
# root, waits for the first one's tarball.
cache_tarball() {
	local key=$1 what=$2 tarball work lock status=0
	shift 2
	mkdir -p "$bpfkit_cache/roots"
	exec {lock}>"$bpfkit_cache/roots/$key.lock"
	flock "$lock"
	tarball=$(find "$bpfkit_cache/roots" -maxdepth 1 -name "$key-*.tar" -mtime "-${BPFKIT_ROOT_MAX_AGE:-7}" | sort | tail -1)
	if [ -z "$tarball" ]; then
		tarball="$bpfkit_cache/roots/$key-$(date +%Y%m%d).tar"
		echo "root: $what (cached as ${tarball##*/})" >&2
		work=$(mktemp -d /var/tmp/bpfkit-root.XXXXXX)
		if "$1" "$work" "${@:2}" >"$work.log" 2>&1; then
			find "$bpfkit_cache/roots" -maxdepth 1 -name "$key-*.tar" -delete
			tar -C "$work" -cf "$tarball.$$" . && mv "$tarball.$$" "$tarball" || status=1
		else
			tail -20 "$work.log" >&2
			status=1
		fi
		rm -rf "$work" "$work.log"
	fi
	exec {lock}>&-
	[ $status = 0 ] && echo "$tarball"
}

# cached KEY DIR WHAT MAKER [ARG...]: DIR becomes what the cached KEY tarball holds (see cache_tarball).
cached() {
	local key=$1 dir=$2 tarball
	shift 2
	tarball=$(cache_tarball "$key" "$@") || return 1
	rm -rf "$dir" && mkdir -p "$dir"
	tar -C "$dir" -xf "$tarball"
}

# package_list PACKAGE...: the packages sorted, once each, comma-separated.
package_list() {
	printf '%s\n' "$@" | sort -u | paste -sd, -
}

# root_key SUITE [PACKAGE...]: the cache key of a root of SUITE with PACKAGEs.
root_key() {
	local suite=$1
	shift
	echo "$suite-$(printf '%s' "$(package_list "$@")" | sha256sum | cut -c1-8)"
}

debian_root() {
	local suite=$1 dir=$2
	shift 2
	cached "$(root_key "$suite" "$@")" "$dir" "$(root_what "$suite" "$@")" make_root "$suite" "$@"
	# npm inside the root talks to the registry through the host's CA bundle and resolver.
	mkdir -p "$dir/etc/ssl/certs"
	cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
}

# debian_root_cached SUITE [PACKAGE...]: makes sure the cache holds that root (a prefetch: no DIR).
debian_root_cached() {
	cache_tarball "$(root_key "$@")" "$(root_what "$@")" make_root "$@" >/dev/null
}

root_what() {
	local suite=$1 packages
	shift
	packages=$(package_list "$@")
	echo "debootstrap $suite${packages:+ with $packages}"
}

make_root() {
	local dir=$1 suite=$2
	shift 2
	debootstrap --variant=minbase "$suite" "$dir" "$debian_mirror"
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
	# apt resolves dependencies fully (debootstrap's --include does not, e.g. for trixie's npm).
	[ $# -eq 0 ] && return
	in_root "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"' apt "$@"
	in_root "$dir" apt-get clean
}

debian_sysroot() {
	cached "$1-$2-sysroot" "$3" "debootstrap --foreign $1 for $2" make_sysroot "$1" "$2"
}

# debian_sysroot_cached SUITE ARCH: makes sure the cache holds that sysroot.
debian_sysroot_cached() {
	cache_tarball "$1-$2-sysroot" "debootstrap --foreign $1 for $2" make_sysroot "$1" "$2" >/dev/null
}

make_sysroot() {
	local dir=$1 suite=$2 arch=$3
	debootstrap --variant=minbase --foreign --arch="$arch" "$suite" "$dir" "$debian_mirror"
	rm -rf "$dir"/var/cache/apt/archives/*.deb
}

node_into() {
	local dir=$1 version=$2 arch=${3:-x64} spec tgz
	spec="node-linux-$arch@$([ "$version" = latest ] && echo latest || echo "$version")"
	mkdir -p "$bpfkit_cache/node" "$dir/opt/node"
	tgz=$(cd "$bpfkit_cache/node" && npm pack --silent "$spec" 2>/dev/null | tail -1)
	[ -f "$bpfkit_cache/node/$tgz" ] || { echo "root: could not fetch $spec from the npm registry" >&2; return 1; }
	tar -C "$dir/opt/node" -xzf "$bpfkit_cache/node/$tgz" --strip-components=1
	npm_into "$dir"
}

# npm_into DIR: npm 10 from the registry into DIR/opt/node (the node-linux-* packages hold only node).
npm_into() {
	local dir=$1 tgz
	mkdir -p "$bpfkit_cache/node"
	tgz=$(cd "$bpfkit_cache/node" && npm pack --silent npm@10 2>/dev/null | tail -1)
	mkdir -p "$dir/opt/node/lib/node_modules/npm" "$dir/opt/node/bin"
	tar -C "$dir/opt/node/lib/node_modules/npm" -xzf "$bpfkit_cache/node/$tgz" --strip-components=1
	ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dir/opt/node/bin/npm"
	ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dir/opt/node/bin/npx"
}

in_root() {
	local dir=$1
	shift
	unshare --mount --propagation private -- sh -ec '
		dir=$1; shift
		mount -t proc proc "$dir/proc"
		mount --rbind /sys "$dir/sys"
		mount --rbind /dev "$dir/dev"
		mount -t tmpfs tmpfs "$dir/tmp"
		exec chroot "$dir" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm_config_cafile=/etc/ssl/certs/ca-certificates.crt \
			npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false "$@"
	' in_root "$dir" "$@"
}
