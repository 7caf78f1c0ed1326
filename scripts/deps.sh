#!/usr/bin/env bash
# Builds the pinned libbpf, libelf (elfutils) and zlib as static position-independent libraries into
# deps/linux-<arch>/, from the upstream (orig) tarballs of Debian's source packages, checksums verified.
#   scripts/deps.sh [--arch ARCH]   (Node's name; default: this machine's; x64 <-> arm64 cross-compile)
# The addon links them in, so every build has the same libbpf whatever the host has installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# The pins: Debian trixie's source packages. Change a version here and nowhere else.
archive=${BPFKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
pins=(
	"zlib 1.3.1 pool/main/z/zlib/zlib_1.3.dfsg+really1.3.1.orig.tar.gz 60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb"
	"elfutils 0.192 pool/main/e/elfutils/elfutils_0.192.orig.tar.bz2 616099beae24aba11f9b63d86ca6cc8d566d968b802391334c91df54eab416b4"
	"libbpf 1.5.0 pool/main/libb/libbpf/libbpf_1.5.0.orig.tar.gz 53492aff6dd47e4da04ef5e672d753b9743848bdb38e9d90eafbe190b7983c44"
)

host_arch() { case "$(uname -m)" in x86_64) echo x64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac; }
arch=$(host_arch)
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) arch=$2; shift 2 ;;
	*) echo "usage: scripts/deps.sh [--arch ARCH]" >&2; exit 2 ;;
	esac
done
cross=
if [ "$arch" != "$(host_arch)" ]; then
	case "$arch" in
	x64) cross=x86_64-linux-gnu- ;;
	arm64) cross=aarch64-linux-gnu- ;;
	*) echo "deps: cannot cross-compile for '$arch' (only for x64 and arm64)" >&2; exit 2 ;;
	esac
fi
cc=${CC:-${cross}gcc}
ar=${AR:-${cross}ar}
for tool in "$cc" "$ar" make tar; do
	command -v "$tool" >/dev/null || { echo "deps: '$tool' is missing (Debian: apt-get install build-essential${cross:+ gcc-${cross%-}})" >&2; exit 1; }
done

out="$root/deps/linux-$arch"
stamp="$(sha256sum <"$0" | cut -c1-16) cc=$($cc -dumpfullversion) arch=$arch"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	echo "deps: libbpf, libelf and zlib for linux-$arch already built in ${out#"$root/"}/"
	exit 0
fi

cache=${BPFKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfkit}/sources
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch NAME PATH SHA256: the tarball, from the cache or Debian's archive; its checksum must match the pin.
fetch() {
	local file="$cache/${2##*/}"
	if [ ! -f "$file" ] || ! echo "$3  $file" | sha256sum -c --status; then
		echo "deps: downloading $archive/$2"
		if command -v curl >/dev/null; then curl -fsSL -o "$file.part" "$archive/$2"
		else wget -q -O "$file.part" "$archive/$2"; fi
		echo "$3  $file.part" | sha256sum -c --status || { echo "deps: $1: checksum mismatch for $archive/$2" >&2; rm -f "$file.part"; exit 1; }
		mv "$file.part" "$file"
	fi
	mkdir -p "$work/$1"
	tar -xf "$file" -C "$work/$1" --strip-components=1
}

echo "deps: building static PIC zlib, libelf and libbpf for linux-$arch into ${out#"$root/"}/"
rm -rf "$out"
mkdir -p "$out/lib" "$out/include"
flags="-fPIC -O2 -g0"
jobs=$(nproc)
# quiet DIR COMMAND...: runs COMMAND in DIR, showing its output only when it fails.
quiet() {
	(cd "$1" && shift && "$@") >"$work/log" 2>&1 || { tail -40 "$work/log" >&2; echo "deps: failed: ${*:2}" >&2; exit 1; }
}
for pin in "${pins[@]}"; do
	read -r name version path sum <<<"$pin"
	fetch "$name" "$path" "$sum"
	case $name in
	zlib)
		quiet "$work/zlib" env CC="$cc" AR="$ar" CFLAGS="$flags" ./configure --static --prefix="$out"
		quiet "$work/zlib" make -j"$jobs" libz.a
		cp "$work/zlib/libz.a" "$out/lib/"
		cp "$work/zlib/zlib.h" "$work/zlib/zconf.h" "$out/include/"
		;;
	elfutils)
		quiet "$work/elfutils" ./configure ${cross:+--host=${cross%-}} --disable-debuginfod --disable-libdebuginfod \
			--without-zstd --without-bzlib --without-lzma \
			CC="$cc" AR="$ar" CFLAGS="$flags" CPPFLAGS="-I$out/include" LDFLAGS="-L$out/lib"
		quiet "$work/elfutils" make -C lib -j"$jobs"
		quiet "$work/elfutils" make -C libelf -j"$jobs" libelf.a
		# libelf.a needs elfutils' internal helpers (libeu.a) since 0.190.
		cp "$work/elfutils/libelf/libelf.a" "$work/elfutils/lib/libeu.a" "$out/lib/"
		cp "$work/elfutils/libelf/libelf.h" "$work/elfutils/libelf/gelf.h" "$work/elfutils/libelf/nlist.h" "$out/include/"
		;;
	libbpf)
		# With its own UAPI headers (linux/bpf.h), so older hosts' kernel headers do not matter.
		quiet "$work/libbpf/src" make -j"$jobs" BUILD_STATIC_ONLY=1 NO_PKG_CONFIG=1 CC="$cc" AR="$ar" \
			EXTRA_CFLAGS="$flags -I$out/include" OBJDIR="$work/libbpf-obj" DESTDIR="$out" PREFIX=/ LIBDIR=/lib \
			INCLUDEDIR=/include UAPIDIR=/include install install_uapi_headers
		;;
	esac
done
rm -rf "$out/lib/pkgconfig"
echo "$stamp" >"$out/stamp"
echo "deps: done, $(du -sh "$out" | cut -f1) in ${out#"$root/"}/"
