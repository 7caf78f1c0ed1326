// The package as users get it: CommonJS and ESM entries, the CLI, a static addon, no stale build.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import * as bpfkit from 'bpfkit'
import { root } from './helpers'

const { sourceHash } = require(path.join(root, 'scripts/build-config.js')) as { sourceHash(): string }

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
    const { addon } = require(path.join(root, 'dist/native.js')) as { addon: { sourceHash: string } }
    expect(addon.sourceHash).toBe(sourceHash())
  })

  it("npm's install step keeps a current local build and rebuilds a stale one", () => {
    const { current } = require(path.join(root, 'scripts/install.js')) as { current(dir?: string): string | null }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-install-'))
    try {
      const file = path.join(dir, 'build/Release/bpfkit.node')
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, 'built from 0123456789abcdef')
      expect(current(dir)).toBeNull()
      fs.writeFileSync(file, `built from ${sourceHash()}`)
      expect(current(dir)).toBe(file)
      fs.rmSync(path.join(dir, 'build'), { recursive: true })
      expect(current(dir)).toBeNull()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    expect(current(root)).toBe(path.join(root, 'build/Release/bpfkit.node'))
  })

  // npm run prebuild makes them (CI does, before the suite); the install tests load them in fresh roots.
  const prebuilds = ['x64', 'arm64'].map((arch) => path.join(root, 'prebuilds', `linux-${arch}`, 'node.napi.glibc.node'))
  it.skipIf(!prebuilds.every((file) => fs.existsSync(file)))('prebuilds are built from this tree and need glibc <= 2.31 and no libstdc++', () => {
    for (const file of prebuilds) {
      expect(fs.readFileSync(file).includes(sourceHash()), `${file} is stale: npm run prebuild`).toBe(true)
      const needs = bpfkit.elfNeeds(file)
      const glibc = Object.values(needs.versions).flat().filter((v) => v.startsWith('GLIBC_2')).map((v) => Number(v.split('.')[1]))
      expect(Math.max(...glibc)).toBeLessThanOrEqual(31)
      expect(Object.values(needs.versions).flat().filter((v) => /^(GLIBCXX|CXXABI)/.test(v))).toEqual([])
      for (const library of needs.libraries) expect(library).toMatch(/^(libc|libm|libpthread|libdl|libgcc_s|ld-linux-[\w-]+)\.so\.\d+$/)
    }
  })
})
