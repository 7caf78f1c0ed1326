# Fresh Debian roots for building prebuilds and testing installs (sourced by scripts/prebuild.sh and
# test/install/*.sh; needs root and debootstrap). A root is made once with debootstrap and cached as a
# tarball named by suite, package list and date; a cached one younger than BPFKIT_ROOT_MAX_AGE days
# (default 7) is reused.
#   debian_root SUITE DIR [PACKAGE...]   DIR becomes a fresh root of SUITE (minbase + PACKAGEs)
#   debian_sysroot SUITE ARCH DIR        DIR becomes the unpacked minbase of SUITE for another ARCH
#                                        (debootstrap's first stage): a sysroot for qemu-user
#   node_into DIR MAJOR|latest [ARCH]    unpacks an official Node (npm's node-linux-<arch>) and npm 10 into DIR/opt/node
#   in_root DIR COMMAND...               runs COMMAND in DIR, with /proc, /sys (bpffs, tracefs, BTF) and
#                                        /dev bound in a private mount namespace that ends with it
bpfkit_cache=${BPFKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfkit}
debian_mirror=${BPFKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# cached KEY DIR WHAT COMMAND...: DIR holds the newest cached KEY-<date>.tar younger than the maximum
# age, or what COMMAND makes in DIR (WHAT says what that is), which is then cached.
cached() {
	local key=$1 dir=$2 what=$3 tarball
	shift 3
	mkdir -p "$bpfkit_cache/roots"
	tarball=$(find "$bpfkit_cache/roots" -maxdepth 1 -name "$key-*.tar" -mtime "-${BPFKIT_ROOT_MAX_AGE:-7}" | sort | tail -1)
	rm -rf "$dir" && mkdir -p "$dir"
	if [ -n "$tarball" ]; then
		tar -C "$dir" -xf "$tarball"
		return
	fi
	tarball="$bpfkit_cache/roots/$key-$(date +%Y%m%d).tar"
	echo "root: $what (cached as ${tarball##*/})" >&2
	"$@" >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; return 1; }
	rm -f "$dir.log"
	find "$bpfkit_cache/roots" -maxdepth 1 -name "$key-*.tar" -delete
	tar -C "$dir" -cf "$tarball.$$" . && mv "$tarball.$$" "$tarball"
}

debian_root() {
	local suite=$1 dir=$2
	shift 2
	local packages
	packages=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
	cached "$suite-$(printf '%s' "$packages" | sha256sum | cut -c1-8)" "$dir" "debootstrap $suite${packages:+ with $packages}" \
		make_root "$suite" "$dir" "$@"
	# npm inside the root talks to the registry through the host's CA bundle and resolver.
	mkdir -p "$dir/etc/ssl/certs"
	cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
}

make_root() {
	local suite=$1 dir=$2
	shift 2
	debootstrap --variant=minbase "$suite" "$dir" "$debian_mirror"
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
	# apt resolves dependencies fully (debootstrap's --include does not, e.g. for trixie's npm).
	[ $# -eq 0 ] && return
	in_root "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"' apt "$@"
	in_root "$dir" apt-get clean
}

debian_sysroot() {
	cached "$1-$2-sysroot" "$3" "debootstrap --foreign $1 for $2" make_sysroot "$@"
}

make_sysroot() {
	local suite=$1 arch=$2 dir=$3
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
