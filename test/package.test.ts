// The package as users get it: CommonJS and ESM entries, the CLI, a static addon, no stale build.
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import * as bpfkit from 'bpfkit'
import { root } from './helpers'

const node = (args: string[]): string => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' })

describe('package', () => {
  it('loads by self-reference from CommonJS and ESM, sharing one set of classes', () => {
    expect(node(['-e', "console.log(typeof require('bpfkit').BpfObject)"]).trim()).toBe('function')
    const esm = node([
      '--input-type=module',
      '-e',
      "import { BpfObject, BpfError } from 'bpfkit'; import cjs from 'bpfkit'; console.log(BpfObject === cjs.BpfObject, typeof BpfError)",
    ])
    expect(esm.trim()).toBe('true function')
    expect(Object.keys(bpfkit)).toEqual(expect.arrayContaining(['BpfObject', 'BpfError', 'VerifierError', 'RingBuffer', 'Link']))
  })

  it('has bpfkit/metrics for CommonJS and ESM, over the same classes as bpfkit', () => {
    expect(node(['-e', "const m = require('bpfkit/metrics'); console.log(typeof m.MapCounter, m.MetricOptionError.prototype instanceof require('bpfkit').BpfError)"]).trim())
      .toBe('function true')
    const esm = node(['--input-type=module', '-e', "import { MapHistogram } from 'bpfkit/metrics'; import cjs from 'bpfkit/metrics'; console.log(MapHistogram === cjs.MapHistogram)"])
    expect(esm.trim()).toBe('true')
  })

  it('has a CLI with --version and --help', () => {
    const cli = path.join(root, 'dist/cli/index.js')
    expect(node([cli, '--version']).trim()).toBe(`${bpfkit.version} (libbpf ${bpfkit.libbpfVersion})`)
    expect(node([cli, '--help'])).toMatch(/Usage: bpfkit/)
  })

  it('links libbpf, libelf, zlib and libstdc++ statically, and libbpf is the pinned 1.5', () => {
    const ldd = execFileSync('ldd', [path.join(root, 'build/Release/bpfkit.node')], { encoding: 'utf8' })
    expect(ldd).not.toMatch(/libbpf|libelf|libz\.|libstdc\+\+/)
    expect(bpfkit.libbpfVersion).toBe('v1.5')
  })

  it('was built from the native sources in this tree', () => {
    const { sourceHash } = require(path.join(root, 'scripts/build-config.js')) as { sourceHash(): string }
    const { addon } = require(path.join(root, 'dist/native.js')) as { addon: { sourceHash: string } }
    expect(addon.sourceHash).toBe(sourceHash())
  })
})
