#!/bin/bash
# Runs inside a fresh root (test/install/install.sh puts it there): installs /pkg/bpfkit.tgz into a
# new project as a user would, with no compiler present, and checks every entry point on the real
# kernel. Prints one line per check and a summary line; exits non-zero on the first failure.
set -euo pipefail
export npm_config_loglevel=error
# Each check's line carries its time since the previous one.
mark=$(date +%s%N)
pass() {
	printf '  ok  %-6s %s\n' "$((($(date +%s%N) - mark) / 1000000))ms" "$*"
	mark=$(date +%s%N)
}
fail() {
	printf '  FAILED  %s\n' "$*"
	exit 1
}
elapsed() { echo $((($(date +%s%N) - $1) / 1000000)); }

for tool in cc gcc g++ c++ clang make; do
	if command -v "$tool" >/dev/null; then fail "no compiler: $tool is installed ($(command -v "$tool"))"; fi
done
pass "no compiler: cc, gcc, g++, c++, clang and make are absent"

mkdir -p /app && cd /app
npm init -y >/dev/null
start=$(date +%s%N)
npm install --no-audit --no-fund /pkg/bpfkit.tgz >/tmp/install.log 2>&1 || { cat /tmp/install.log; fail "npm install bpfkit.tgz"; }
install_ms=$(elapsed "$start")
if grep -Ei 'gyp|CXX\(|cc1|g\+\+|make(\[|:)|compil|warning' /tmp/install.log; then fail "npm install printed build output (above)"; fi
[ ! -e node_modules/bpfkit/build ] || fail "npm install built the addon from source"
pass "npm install bpfkit.tgz in ${install_ms} ms, no build output: $(grep -c . /tmp/install.log) lines ($(tr '\n' ' ' </tmp/install.log))"

versions=$(node -e "const b = require('bpfkit'); console.log(b.version, b.libbpfVersion)")
pass "require('bpfkit') in CommonJS: bpfkit $versions"
node --input-type=module -e "
import { BpfObject, BpfError, libbpfVersion } from 'bpfkit'
if (typeof BpfObject.open !== 'function' || typeof BpfError !== 'function') process.exit(1)" || fail "ESM import"
pass "import { BpfObject } from 'bpfkit' in ESM"

npx bpfkit doctor --selftest --json >/tmp/selftest.json || { cat /tmp/selftest.json; fail "npx bpfkit doctor --selftest"; }
node -e "
const { selftest } = require('/tmp/selftest.json')
const hash = require('/app/node_modules/bpfkit/dist/native.js').addon.sourceHash
const problems = []
if (selftest.source !== 'prebuild') problems.push('loaded ' + selftest.addon + ' (' + selftest.source + '), not a prebuild')
if (selftest.event.pid <= 0) problems.push('no event')
if (hash !== process.env.BPFKIT_TREE_HASH) problems.push('prebuild built from native sources ' + hash + ', the tree has ' + process.env.BPFKIT_TREE_HASH)
if (problems.length) { console.error(problems.join('; ')); process.exit(1) }
console.log(selftest.addon.replace('/app/node_modules/bpfkit/', '') + ', libbpf ' + selftest.libbpf + ', glibc >= ' + selftest.glibc +
  ', needs ' + selftest.libraries.join(' ') + ', event from pid ' + selftest.event.pid + ' (' + selftest.event.comm + ')')
" >/tmp/selftest.line || { cat /tmp/selftest.line; fail "doctor --selftest report"; }
pass "npx bpfkit doctor --selftest: $(cat /tmp/selftest.line)"

# TypeScript consumers: strict, with the module settings of Node and of bundlers, no @types/node of their own.
mkdir -p /consumer && cd /consumer
cp /pkg/consumer.ts index.ts
echo '{ "type": "module" }' >package.json
ln -s /app/node_modules node_modules
npm install --prefix /app --no-audit --no-fund --no-save typescript@5.9 >/dev/null 2>&1 || fail "npm install typescript"
pass "npm install typescript@5.9 (for the checks below)"
for resolution in nodenext bundler; do
	module=$([ $resolution = nodenext ] && echo nodenext || echo esnext)
	printf '{ "compilerOptions": { "strict": true, "module": "%s", "moduleResolution": "%s", "target": "es2022", "noEmit": true, "types": [] }, "files": ["index.ts"] }\n' \
		"$module" "$resolution" >tsconfig.json
	/app/node_modules/.bin/tsc -p . || fail "tsc with moduleResolution $resolution"
done
pass "TypeScript (strict; moduleResolution nodenext and bundler) type-checks import { BpfObject } from 'bpfkit'"

# The execsnoop example, compiled against the installed package, sees a real exec.
mkdir -p /example && cd /example
cp /pkg/examples/execsnoop.ts /pkg/examples/execsnoop.skel.ts .
ln -s /app/node_modules node_modules
/app/node_modules/.bin/tsc --strict --module commonjs --target es2022 --types node --outDir out execsnoop.ts || fail "tsc execsnoop.ts"
node out/execsnoop.js >/tmp/execsnoop.out 2>&1 &
snoop=$!
seen=
for _ in $(seq 1 600); do
	/bin/true
	if grep -q '/bin/true' /tmp/execsnoop.out; then seen=1 && break; fi
	sleep 0.1
done
kill -INT "$snoop"
wait "$snoop" || { cat /tmp/execsnoop.out; fail "execsnoop exited $? on SIGINT"; }
[ -n "$seen" ] || { cat /tmp/execsnoop.out; fail "execsnoop saw no exec of /bin/true"; }
pass "examples/execsnoop against the installed package: $(grep -m1 '/bin/true' /tmp/execsnoop.out | tr -s ' ')"
echo "  all checks passed on $(. /etc/os-release && echo "$PRETTY_NAME"), Node $(node --version), install ${install_ms} ms"
