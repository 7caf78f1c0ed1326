#!/usr/bin/env bash
# Builds position-independent static libbpf and libelf into deps/ from Debian's source packages, so the
# addon links them in and needs only libc at run time. (Debian's libbpf.a and libelf.a are not built
# with -fPIC and cannot go into a shared object.) libbpf: the version of the installed libbpf-dev.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/deps"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

libbpf_version=$(dpkg-query -W -f='${Version}' libbpf-dev)
libbpf_upstream=${libbpf_version#*:}
libbpf_upstream=${libbpf_upstream%%-*}
elfutils_version=$(dpkg-query -W -f='${Version}' libelf-dev)
elfutils_upstream=${elfutils_version%%-*}
stamp="libbpf-$libbpf_upstream elfutils-$elfutils_upstream"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	echo "deps: $stamp already built in deps/"
	exit 0
fi

# Unpacks the upstream tarball of Debian's source package $1 version $2 (the upstream part: $3) into $4.
# Only the orig tarball is used, so a mirror missing the .dsc of a backport still works.
unpack() {
	(cd "$work" && apt-get source --download-only -qq "$1=${2#*:}" >/dev/null 2>&1 || true)
	local tarball
	tarball=$(ls "$work/$1_$3.orig.tar."* 2>/dev/null | grep -v '\.asc$' | head -1 || true)
	if [ -z "$tarball" ]; then
		echo "deps: could not fetch Debian's source of $1 $2: add a deb-src line for its suite (scripts/setup.sh does)" >&2
		exit 1
	fi
	tar -xf "$tarball" -C "$4" --strip-components=1
}

echo "deps: building static PIC libbpf $libbpf_upstream and libelf $elfutils_upstream into deps/"
rm -rf "$out"
mkdir -p "$out/lib" "$out/include" "$work/libbpf" "$work/elfutils" "$work/obj"

unpack libbpf "$libbpf_version" "$libbpf_upstream" "$work/libbpf"
make -s -C "$work/libbpf/src" -j"$(nproc)" BUILD_STATIC_ONLY=1 EXTRA_CFLAGS="-fPIC -O2" \
	OBJDIR="$work/obj" DESTDIR="$out" PREFIX=/ LIBDIR=/lib INCLUDEDIR=/include install >/dev/null

unpack elfutils "$elfutils_version" "$elfutils_upstream" "$work/elfutils"
(cd "$work/elfutils" &&
	./configure -q --disable-debuginfod --disable-libdebuginfod --without-zstd --without-bzlib --without-lzma \
		CFLAGS="-fPIC -O2" >/dev/null &&
	make -s -C lib -j"$(nproc)" >/dev/null &&
	make -s -C libelf -j"$(nproc)" libelf.a >/dev/null)
# libelf.a needs elfutils' internal helpers (libeu.a) since 0.190.
cp "$work/elfutils/libelf/libelf.a" "$work/elfutils/lib/libeu.a" "$out/lib/"
cp "$work/elfutils/libelf/libelf.h" "$work/elfutils/libelf/gelf.h" "$work/elfutils/libelf/nlist.h" "$out/include/"
rm -rf "$out/lib/pkgconfig"
echo "$stamp" >"$out/stamp"
echo "deps: done ($(du -sh "$out" | cut -f1))"
