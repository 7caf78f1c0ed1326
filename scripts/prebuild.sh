#!/usr/bin/env bash
# npm run prebuild [-- x64 arm64 | --prefetch]: the addons that ship in the npm package, prebuilds/linux-<arch>/
# node.napi.glibc.node, built by prebuildify inside a Debian 11 root (glibc 2.31) with the pinned static
# libbpf, libelf and zlib and a static libstdc++; arm64 with Debian's cross toolchain. Each is checked:
# no glibc symbol newer than 2.31, no GLIBCXX, and only glibc's libraries and libgcc_s needed at run
# time. Needs root and debootstrap (scripts/setup.sh installs it). --prefetch only makes sure that the
# build root is cached.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/debian-root.sh
root=(bullseye build-essential python3 g++-aarch64-linux-gnu ca-certificates curl bzip2 xz-utils)
if [ "${1:-}" = --prefetch ]; then debian_root_cached "${root[@]}"; exit; fi
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x64 arm64)
glibc_max=2.31
allowed='^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'

work=$(mktemp -d /var/tmp/bpfkit-prebuild.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
debian_root "${root[0]}" "$work" "${root[@]:1}"
node_into "$work" 20

# The tree as git sees it (tracked and new files, not ignored ones), with the dev dependencies
# (prebuildify, node-addon-api), and the deps already built in earlier runs of this script.
mkdir -p "$work/src/deps" "$bpfkit_cache/prebuild-deps" "$work/root/.cache/bpfkit"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$work/src" -xf -
cp -a node_modules "$work/src/"
cp -a "$bpfkit_cache/prebuild-deps/." "$work/src/deps/"
[ -d "$bpfkit_cache/sources" ] && cp -a "$bpfkit_cache/sources" "$work/root/.cache/bpfkit/"

for arch in "${archs[@]}"; do
	echo "prebuild: linux-$arch in Debian 11 (glibc 2.31)"
	case $arch in
	x64) cross=() ;;
	arm64) cross=(CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip) ;;
	*) echo "prebuild: no cross toolchain for '$arch' (x64, arm64)" >&2; exit 2 ;;
	esac
	in_root "$work" env "${cross[@]}" npm_config_nodedir=/opt/node npm_config_jobs=max \
		PREBUILD_NODE_GYP=/opt/node/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
		bash -ec "cd /src && bash scripts/deps.sh --arch $arch && rm -rf build &&
			node node_modules/prebuildify/bin.js --napi --strip --tag-libc --name node.napi --arch $arch >/tmp/build.log 2>&1 ||
			{ grep -E -B3 -A8 'error|Error' /tmp/build.log | head -60 >&2; exit 1; }"
done
cp -a "$work/src/deps/." "$bpfkit_cache/prebuild-deps/"

status=0
for arch in "${archs[@]}"; do
	file=prebuilds/linux-$arch/node.napi.glibc.node
	mkdir -p "prebuilds/linux-$arch"
	rm -f "prebuilds/linux-$arch"/*.node
	cp "$work/src/$file" "$file"
	needs=$(node -e '
		const { elfNeeds } = require("./dist/elf.js")
		const n = elfNeeds(process.argv[1])
		const glibc = Object.values(n.versions).flat().filter((v) => v.startsWith("GLIBC_2")).map((v) => v.slice(6))
		const newest = glibc.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop()
		const cxx = Object.values(n.versions).flat().filter((v) => v.startsWith("GLIBCXX") || v.startsWith("CXXABI"))
		console.log([newest, cxx.length, n.libraries.join(",")].join(" "))' "$file")
	read -r newest cxx libraries <<<"$needs"
	printf 'prebuild: %-44s %5s KiB  glibc >= %s  needs %s\n' "$file" "$(($(stat -c %s "$file") / 1024))" "$newest" "$libraries"
	if [ "$(printf '%s\n%s\n' "$newest" "$glibc_max" | sort -V | tail -1)" != "$glibc_max" ]; then
		echo "prebuild: $file needs glibc $newest, newer than $glibc_max" >&2
		status=1
	fi
	[ "$cxx" = 0 ] || { echo "prebuild: $file needs libstdc++ symbol versions (GLIBCXX/CXXABI)" >&2; status=1; }
	for lib in ${libraries//,/ }; do
		[[ $lib =~ $allowed ]] || { echo "prebuild: $file needs $lib at run time" >&2; status=1; }
	done
done
echo "prebuild: done in $((SECONDS - started)) s"
exit $status
