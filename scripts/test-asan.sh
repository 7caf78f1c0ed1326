#!/usr/bin/env bash
# Runs the test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the addon (CMake,
# Debug): a memory error or undefined behaviour in the addon aborts the run. LeakSanitizer stays off:
# Node itself does not free everything at exit. It leaves out btf-vmlinux.test.ts: half a minute here
# of compiling codecs in JavaScript for every kernel struct, which the other two suite runs cover.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B cmake-build/asan -DCMAKE_BUILD_TYPE=Debug -DBPFKIT_ASAN=ON -DBPFKIT_BPF_OBJECTS=OFF >/dev/null
cmake --build cmake-build/asan --target bpfkit -j"$(nproc)" >/dev/null
LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	BPFKIT_ADDON=cmake-build/asan/bpfkit.node npx vitest run --exclude test/btf-vmlinux.test.ts
