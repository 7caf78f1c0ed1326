// Builds a benchmark's C libbpf baseline (bench/NAME/baseline.c) at run time, linked like the addon.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..')

/**
 * Compiles bench/<name>/baseline.c into cmake-build/bench/<name>-baseline against the pinned static
 * libbpf of deps/linux-<arch>/ (as the addon links it; the system's only when deps/ was not built), and
 * returns the binary's path. `extraFlags` go to the compiler before the source (include paths).
 */
export function buildBaseline(name: string, extraFlags: string[] = []): string {
  const out = path.join(root, 'cmake-build/bench')
  mkdirSync(out, { recursive: true })
  const binary = path.join(out, `${name}-baseline`)
  const deps: string = require(path.join(root, 'scripts/build-config.js')).depsDir()
  const libs = ['libbpf.a', 'libelf.a', 'libeu.a', 'libz.a'].map((f) => path.join(deps, 'lib', f))
  const flags = libs.every((f) => existsSync(f))
    ? ['-I', path.join(deps, 'include'), ...libs]
    : execFileSync('pkg-config', ['--cflags', '--libs', 'libbpf'], { encoding: 'utf8' }).trim().split(/\s+/)
  // Compiler messages go to stderr, so that --json output stays clean.
  execFileSync('cc', ['-O2', '-Wall', ...extraFlags, path.join(root, 'bench', name, 'baseline.c'), '-o', binary, ...flags],
    { stdio: ['ignore', process.stderr, 'inherit'] })
  return binary
}

/** The median of a benchmark's rounds (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** `[-- --json] [-- --rounds N]`, the options the C-baseline benchmarks share. */
export function roundsArgs(argv: string[], script: string, rounds: number): { json: boolean; rounds: number } {
  let json = false
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = true
    else if (argv[i] === '--rounds' && /^[1-9][0-9]*$/.test(argv[i + 1] ?? '')) rounds = Number(argv[++i])
    else throw new Error(`usage: npm run ${script} [-- --json] [-- --rounds N] (unknown argument ${argv[i]})`)
  }
  return { json, rounds }
}
