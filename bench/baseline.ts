// Builds a benchmark's C libbpf baseline (bench/NAME/baseline.c) at run time, linked like the addon.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..')

/**
 * Compiles bench/<name>/baseline.c into cmake-build/bench/<name>-baseline against deps/ (static
 * libbpf, as the addon links it) or the system's libbpf, and returns the binary's path.
 */
export function buildBaseline(name: string): string {
  const out = path.join(root, 'cmake-build/bench')
  mkdirSync(out, { recursive: true })
  const binary = path.join(out, `${name}-baseline`)
  const deps = path.join(root, 'deps')
  let flags: string[]
  if (existsSync(path.join(deps, 'lib/libbpf.a')) && existsSync(path.join(deps, 'lib/libelf.a'))) {
    // libelf.a needs elfutils' internal helpers (libeu.a) since elfutils 0.190.
    const eu = path.join(deps, 'lib/libeu.a')
    flags = ['-I', path.join(deps, 'include'), path.join(deps, 'lib/libbpf.a'), path.join(deps, 'lib/libelf.a'),
      ...(existsSync(eu) ? [eu] : []), '-lz']
  } else {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libbpf'], { encoding: 'utf8' }).trim().split(/\s+/)
  }
  // Compiler messages go to stderr, so that --json output stays clean.
  execFileSync('cc', ['-O2', '-Wall', path.join(root, 'bench', name, 'baseline.c'), '-o', binary, ...flags],
    { stdio: ['ignore', process.stderr, 'inherit'] })
  return binary
}
