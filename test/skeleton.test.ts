// Typed skeletons: the generated module's types (checked by tsc in `npm test`), its behaviour on the
// real kernel, stable names, staleness, and the CLI.
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { generateSkeleton, type EventView, type Int64AsNumber, type RingBuffer } from 'bpfkit'
import { fixture, root, thrown } from './helpers'
import * as types from './fixtures/types.skel'
import * as globals from './fixtures/globals.skel'

const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'dist/cli/index.js'), ...args], { cwd: root, encoding: 'utf8' })

describe('typed skeletons', () => {
  it('types fields as the codecs decode them', () => {
    expectTypeOf<types.All['u64v']>().toEqualTypeOf<bigint>()
    expectTypeOf<types.All['s8v']>().toEqualTypeOf<number>()
    expectTypeOf<types.All['flag']>().toEqualTypeOf<boolean>()
    expectTypeOf<types.All['name']>().toEqualTypeOf<string>()
    expectTypeOf<types.All['names']>().toEqualTypeOf<string[]>()
    expectTypeOf<types.All['bytes']>().toEqualTypeOf<Uint8Array>()
    expectTypeOf<types.All['matrix']>().toEqualTypeOf<Uint32Array[]>()
    expectTypeOf<types.All['items']>().toEqualTypeOf<types.Inner[]>()
    expectTypeOf<types.All['ptr']>().toEqualTypeOf<bigint>()
    expectTypeOf<types.All['u128']>().toEqualTypeOf<bigint>()
    expectTypeOf<types.All['chain']>().toEqualTypeOf<number>()
    expectTypeOf<types.Bits['neg']>().toEqualTypeOf<number>()
    expectTypeOf<types.Bits['big']>().toEqualTypeOf<bigint>()
    expectTypeOf<types.Bits['tail']>().toEqualTypeOf<number>()
    expectTypeOf<types.Quirks['on']>().toEqualTypeOf<boolean>()
    expectTypeOf<types.All__anon_u>().toEqualTypeOf<{ word: number; octets: Uint8Array }>()
    // Members of anonymous structs and unions sit on the parent, as C reads them.
    expectTypeOf<types.All['lo']>().toEqualTypeOf<number>()
    expectTypeOf<types.All['whole']>().toEqualTypeOf<bigint>()
    expectTypeOf<types.Reals>().toEqualTypeOf<{ f: number; d: number }>()
    expectTypeOf<types.All['color']>().toEqualTypeOf<1 | 2 | -3>()
    expectTypeOf(types.Wide.WIDE_BIG).toEqualTypeOf<18364758544493064720n>()
    expectTypeOf<types.Odd>().toEqualTypeOf<{ constructor: number; ['__proto__']: number; delete: number }>()
    expectTypeOf<types.Maps['values']['get']>().returns.toEqualTypeOf<types.All | undefined>()
    // Read-only .rodata once loaded is a type error, as a wrong map name is.
    expectTypeOf<types.Loaded['maps']>().toEqualTypeOf<types.Maps>()
    // @ts-expect-error: no such map
    expectTypeOf<types.Maps['nope']>()
  })

  it('loads the fixture through its skeleton: values written by the program read back exactly, writes echo', async () => {
    using skel = types.open()
    const loaded = await skel.load()
    expect(loaded.progs.fill.testRun().retval).toBe(0)
    const value = loaded.maps.values.get(0)
    expect(value?.name).toBe('hello')
    expect(value?.bits).toEqual({ x: 5, y: 9, cross: 100, mid: 0xabcde, neg: -7, big: 0xfedcba9876n, tail: 1 })
    expect(value?.odd).toEqual({ constructor: 1, ['__proto__']: 2, delete: 3 })
    expect(value?.color).toBe(types.Color.NEGATIVE)
    loaded.maps.values.set(1, value!)
    expect(loaded.progs.check.testRun().retval).toBe(0)
    loaded.maps.values.set(1, { u8v: 1 }) // a partial value: the rest is zero
    expect(loaded.progs.check.testRun().retval).toBe(1)
    const reader = loaded.maps.all_events.reader()
    expectTypeOf(reader).toEqualTypeOf<RingBuffer<types.All>>()
    reader.on('batch', (batch) => expectTypeOf(batch.at(0).nested).toEqualTypeOf<EventView<types.Inner>>())
    reader.close()
  })

  it("types and decodes 64-bit fields as numbers with open({ int64: 'number' })", async () => {
    expectTypeOf<types.Maps<'number'>['values']['get']>().returns.toEqualTypeOf<Int64AsNumber<types.All> | undefined>()
    expectTypeOf<Int64AsNumber<types.All>['u64v']>().toEqualTypeOf<number>()
    expectTypeOf<Int64AsNumber<types.All>['matrix']>().toEqualTypeOf<Uint32Array[]>()
    using skel = types.open({ int64: 'number' })
    const loaded = await skel.load()
    expect(loaded.progs.fill.testRun().retval).toBe(0)
    const value = loaded.maps.values.get(0)
    expectTypeOf(value).toEqualTypeOf<Int64AsNumber<types.All> | undefined>()
    expect(value).toMatchObject({ u64v: 0xfedcba9876543210, s64v: -5000000000, bits: { big: 0xfedcba9876 }, ptr: 0xffff888012345678 })
    const reader = loaded.maps.all_events.reader()
    expectTypeOf(reader).toEqualTypeOf<RingBuffer<Int64AsNumber<types.All>>>()
    reader.close()
    const bigints = types.open().object.map('values')
    const numbers = loaded.maps.all_events.reader({ int64: 'number' })
    expectTypeOf(numbers).toEqualTypeOf<RingBuffer<Int64AsNumber<types.All>>>()
    numbers.close()
    bigints.close()
    // A reader asks for bigints whatever the skeleton's option, in its type too.
    const wide = loaded.maps.all_events.reader({ int64: 'bigint' })
    expectTypeOf(wide).toEqualTypeOf<RingBuffer<types.All>>()
    const event = new Promise<types.All>((resolve) => wide.once('data', resolve))
    expect(loaded.progs.emit_all.testRun().retval).toBe(0)
    expect(await event).toMatchObject({ u64v: 0xfedcba9876543210n, s64v: -5000000000n, bits: { big: 0xfedcba9876n } })
    wide.close()
  })

  it('checks its options as BpfObject.open does: anything but an object is EINVAL', async () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    for (const options of [Symbol('o'), 42, 'x', null, proxy]) {
      expect(thrown(() => types.open(options as never))).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    }
    using skel = types.open()
    const loaded = await skel.load()
    expect(thrown(() => loaded.maps.all_events.reader(null as never))).toMatchObject({ code: 'EINVAL' })
  })

  it('types globals: .rodata set before load, read-only once loaded, custom sections by name', async () => {
    using skel = globals.open()
    skel.rodata.threshold = 42
    skel.rodata.label = 'hi'
    skel.rodata.limits = { high: 3 } // partial: the rest is zero
    const loaded = await skel.load()
    expect(loaded.progs.bump.testRun().retval).toBe(0)
    expectTypeOf(loaded.bss.hits).toEqualTypeOf<bigint>()
    expectTypeOf(loaded.rodata.label).toEqualTypeOf<string>()
    expect(loaded.bss.seen_threshold).toBe(42)
    expect(loaded.bss.seen_label).toBe('hi')
    expect(loaded.bss.seen_limits).toEqual({ low: 0, high: 3 })
    expect(loaded.section('.data.custom').custom_value).toBe(4)
    expect(() => {
      // @ts-expect-error: .rodata is read-only once loaded, in the types too
      loaded.rodata.threshold = 1
    }).toThrow(expect.objectContaining({ code: 'EROFS' }))
  })

  it('names anonymous types from their parent, so that adding a type or a field renames nothing', () => {
    const names = (object: string): string[] => {
      const source = generateSkeleton(fs.readFileSync(fixture(object)), { objectPath: fixture(object) })
      return [...source.matchAll(/^export interface (\w+)/gm)].map((m) => m[1] as string)
    }
    const before = names('skel-v1.bpf.o')
    const after = names('skel-v2.bpf.o')
    expect(before).toEqual(['SkelSample__anon_u', 'SkelSample__anon_pair', 'SkelSample', 'Maps', 'Progs', 'Globals'])
    expect(after).toEqual(expect.arrayContaining(before))
    expect(after).toContain('SkelExtra__anon_first')
  })

  it('renames C types named like built-ins, numbers clashing names from linked units, types odd members', async () => {
    const dir = path.join(root, 'cmake-build', 'skel-names')
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    for (const name of ['skel-names', 'skel-linked', 'skel-edge']) {
      expect(cli('gen', 'skeleton', fixture(`${name}.bpf.o`), '-o', path.join(dir, `${name}.skel.ts`)).status).toBe(0)
    }
    const names = fs.readFileSync(path.join(dir, 'skel-names.skel.ts'), 'utf8')
    const interfaces = [...names.matchAll(/^export interface (\w+)/gm)].map((m) => m[1])
    expect(interfaces).toEqual(['String_', 'Number_', 'Map_', 'Maps_', 'Empty', 'Nothing', 'OddTypes', 'Maps', 'Progs', 'Globals'])
    expect(names).toContain("export interface Maps<I extends Int64Mode = 'bigint'> {")
    expect(names).toContain('  "__proto__": BpfMap<number, Number_>')
    expect(names).toContain('export interface Empty {}')
    expect(names).toContain('  /** struct only_declared *opaque; offset 16 */\n  opaque: bigint')
    expect(names).toContain('  /** void (*callback)(int); offset 24 */\n  callback: bigint')
    const linked = fs.readFileSync(path.join(dir, 'skel-linked.skel.ts'), 'utf8')
    expect(linked).toContain('events_a: BpfMap<number, Event>')
    expect(linked).toContain('events_b: BpfMap<number, Int64<Event_2, I>>')
    execFileSync('npx', ['tsc', '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--types', 'node', '--skipLibCheck', path.join(dir, 'skel-names.skel.ts'), path.join(dir, 'skel-linked.skel.ts'),
      path.join(dir, 'skel-edge.skel.ts')], { cwd: root, stdio: 'pipe' })
    const edge = fs.readFileSync(path.join(dir, 'skel-edge.skel.ts'), 'utf8')
    // The module's own names are taken (Init_, Loaded_); a typedef names its anonymous struct wherever it is used.
    expect([...edge.matchAll(/^export interface (\w+)/gm)].map((m) => m[1]).slice(0, 4)).toEqual(['Init_', 'Loaded_', 'AnonT', 'Edge'])
    expect(edge).toContain('  wide: bigint[]')
    expect(edge).toContain('  queue: BpfMap<never, AnonT>')
    // An 8-byte ENUM is a bigint, as the codecs decode it.
    expect(edge).toContain('  WIDE_TWO: 2n,')

    // Through the skeleton on the kernel: empty structs, opaque and function pointers round-trip.
    const script = `
      const { open } = require(${JSON.stringify(path.join(dir, 'skel-names.skel.ts'))})
      ;(async () => {
        const skel = await open().load()
        skel.maps.odd.set(0, { map: { key: { text: 'k' }, value: { n: 7 } }, opaque: 0x1000n, callback: 0x2000n, after: 9 })
        console.log(JSON.stringify(skel.maps.odd.get(0), (_, v) => (typeof v === 'bigint' ? String(v) : v)))
        const edge = require(${JSON.stringify(path.join(dir, 'skel-edge.skel.ts'))})
        const e = await edge.open().load()
        e.maps.constructor.set(0, { wide: [1n, 2n], odd: 7, anon: { q: 3 }, flags: edge.WideFlags.WIDE_TWO })
        const v = e.maps.constructor.get(0)
        if (v.wide[1] !== 2n || v.odd !== edge.OddNames.__proto__ || v.anon.q !== 3) throw new Error('edge value')
        if (v.flags !== edge.WideFlags.WIDE_TWO) throw new Error('an 8-byte enum reads as ' + typeof v.flags + ', its skeleton says ' + typeof edge.WideFlags.WIDE_TWO)
        if (!Object.keys(edge.OddNames).includes('__proto__')) throw new Error('enum __proto__ lost')
        e.progs.valueOf.testRun()
        if (e.bss['valueOf.state.0'].hits !== 1) throw new Error('static local')
        if (Object.keys(skel.maps).join() !== 'odd,__proto__') throw new Error('map __proto__ lost: ' + Object.keys(skel.maps))
        skel.maps.__proto__.set(0, { n: 5 })
        if (skel.maps.__proto__.get(0).n !== 5) throw new Error('map __proto__')
        e.close()
        skel.close()
      })()`
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8' })
    expect(JSON.parse(out)).toEqual({
      map: { key: { text: 'k' }, value: { n: 7 } }, maps: { x: 0 }, empty: {}, nothing: {}, opaque: '4096', callback: '8192', after: 9,
    })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('is deterministic, compiles with tsc --strict, and --check finds stale skeletons', () => {
    const dir = path.join(root, 'cmake-build', 'skel-test')
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    const object = path.join(dir, 'sample.bpf.o')
    fs.copyFileSync(fixture('skel-v1.bpf.o'), object)
    const module = path.join(dir, 'sample.skel.ts')
    expect(cli('gen', 'skeleton', object, '-o', module, '--path').status).toBe(0)
    const first = fs.readFileSync(module, 'utf8')
    expect(cli('gen', 'skeleton', object, '-o', module, '--path').status).toBe(0)
    expect(fs.readFileSync(module, 'utf8')).toBe(first)
    expect(first).toMatch(/^\/\/ Generated by bpfkit gen skeleton .*\n\/\/ from sample\.bpf\.o \(sha256 [0-9a-f]{16}\)/)
    execFileSync('npx', ['tsc', '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--types', 'node', '--skipLibCheck', module], { cwd: root, stdio: 'pipe' })
    expect(cli('gen', 'skeleton', object, '-o', module, '--path', '--check').status).toBe(0)

    // The object changes under the skeleton: --check says so, and open() refuses with the hint.
    fs.copyFileSync(fixture('skel-v2.bpf.o'), object)
    const check = cli('gen', 'skeleton', object, '-o', module, '--path', '--check')
    expect(check.status).toBe(1)
    expect(check.stderr).toContain('is stale: regenerate it with bpfkit gen skeleton')
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', `require(${JSON.stringify(module)}).open()`], { cwd: root, encoding: 'utf8' })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('ESTALE')
    expect(run.stderr).toContain('the object no longer matches the skeleton (struct skel_sample changed)')
    expect(run.stderr).toContain('regenerate it: bpfkit gen skeleton')
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("compiles in a fresh TypeScript project: tsc --init's tsconfig (exactOptionalPropertyTypes and the rest)", () => {
    const dir = path.join(root, 'cmake-build', 'skel-fresh')
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true })
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'bpfkit'))
    execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['--init'], { cwd: dir, stdio: 'pipe' })
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n')
    // Skeletons without a .rodata or .data (execsnoop) and with every kind of section (globals).
    fs.copyFileSync(path.join(root, 'examples', 'execsnoop.skel.ts'), path.join(dir, 'execsnoop.skel.ts'))
    fs.copyFileSync(fixture('globals.skel.ts'), path.join(dir, 'globals.skel.ts'))
    fs.writeFileSync(path.join(dir, 'index.ts'), [
      "import { BpfError, BpfObject } from 'bpfkit'",
      "import { open } from './execsnoop.skel.js'",
      "import { open as openGlobals } from './globals.skel.js'",
      'const skel = await open({ int64: \'number\' }).load()',
      'skel.maps.events.reader().on(\'data\', (e) => { const comm: string = e.comm; console.log(e.pid + 1, comm) })',
      'const globals = openGlobals()',
      'globals.rodata.threshold = 1',
      'console.log(skel.bss, globals.bss, BpfError)',
      // Options that may be undefined, as a value read from the environment is.
      'const maybe = process.env.BPFKIT_BTF',
      "const obj = BpfObject.open('x.bpf.o', { btfCustomPath: maybe, pinRoot: undefined, logger: undefined })",
      "obj.program('p').attachUprobe({ binary: 'libc.so.6', symbol: maybe, pid: undefined, retprobe: undefined })",
      "obj.ringBuffer('events', { int64: undefined, signal: undefined })",
      '',
    ].join('\n'))
    const options = fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')
    expect(options).toContain('"strict": true')
    // And stricter still: what compiles so compiles under tsc --init's settings alone.
    const tsc = spawnSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', '.', '--noUnusedLocals', '--noUnusedParameters'],
      { cwd: dir, encoding: 'utf8' })
    expect(tsc.stdout + tsc.stderr).toBe('')
    expect(tsc.status).toBe(0)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('types perf buffers by BPFKIT_PERFBUF and ring buffers by BPFKIT_RINGBUF', () => {
    const module = generateSkeleton(fs.readFileSync(fixture('sequence.bpf.o')), { objectPath: fixture('sequence.bpf.o') })
    expect(module).toContain('  perf_events: PerfBufferMap<Int64<SeqEvent, I>, SeqEvent>')
    expect(module).toContain('  events: RingBufferMap<Int64<SeqEvent, I>, SeqEvent>')
  })

  it('has --help and clear errors: not an ELF file, no BTF', () => {
    expect(cli('gen', 'skeleton', '--help').stdout).toContain('--check')
    const notElf = cli('gen', 'skeleton', path.join(root, 'package.json'))
    expect(notElf.status).toBe(1)
    expect(notElf.stderr.trim()).toBe('bpfkit gen skeleton: package.json is not a BPF ELF object (give it the .bpf.o that clang -g -target bpf wrote)')
    const dir = fs.mkdtempSync(path.join(root, 'cmake-build', 'nobtf-'))
    const stripped = path.join(dir, 'nobtf.bpf.o')
    execFileSync('llvm-objcopy', ['--remove-section', '.BTF', '--remove-section', '.BTF.ext', fixture('skel-v1.bpf.o'), stripped])
    const noBtf = cli('gen', 'skeleton', stripped)
    expect(noBtf.status).toBe(1)
    expect(noBtf.stderr).toContain('has no BTF (compile with clang -g')
    // A directory as the output, a missing one under --check: a message, not a stack trace or 'stale'.
    const intoDir = cli('gen', 'skeleton', fixture('skel-v1.bpf.o'), '-o', dir)
    expect(intoDir.status).toBe(1)
    expect(intoDir.stderr.trim()).toMatch(/^bpfkit gen skeleton: cannot write .*nobtf-\w+: EISDIR/)
    const missing = cli('gen', 'skeleton', fixture('skel-v1.bpf.o'), '-o', path.join(dir, 'none.ts'), '--check')
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain('none.ts does not exist: generate it with bpfkit gen skeleton')
    // The regenerate command, as the header and the hints give it, is one a shell runs as it reads.
    const spaced = path.join(dir, "my 'odd' obj.bpf.o")
    fs.copyFileSync(fixture('skel-v1.bpf.o'), spaced)
    expect(cli('gen', 'skeleton', spaced, '--name', 'odd name').status).toBe(0)
    const header = fs.readFileSync(path.join(dir, "my 'odd' obj.skel.ts"), 'utf8').split('\n')[0]!
    const command = header.replace('// Generated by bpfkit gen skeleton ', '')
    expect(execFileSync('sh', ['-c', `printf '%s\\n' ${command}`], { cwd: root, encoding: 'utf8' }).split('\n'))
      .toEqual([path.relative(root, spaced), '--name', 'odd name', ''])
    fs.rmSync(dir, { recursive: true, force: true })
    expect(thrown(() => generateSkeleton(fs.readFileSync(fixture('skel-v1.bpf.o')), { objectPath: 'x', types: ['nope'] })).code).toBe('ENOENT')
    // A type as C names it, or by its name alone; the kind must be its own.
    const skel = (type: string): string => generateSkeleton(fs.readFileSync(fixture('skel-v1.bpf.o')), { objectPath: 'x', types: [type] })
    expect(skel('struct skel_sample')).toBe(skel('skel_sample'))
    expect(thrown(() => skel('union skel_sample')).message).toContain("no type named 'union skel_sample'")
  })

  it('committed skeletons are up to date', () => {
    for (const object of ['examples/execsnoop.bpf.o', 'examples/forkcount.bpf.o', 'examples/field-exists.bpf.o', 'test/fixtures/types.bpf.o', 'test/fixtures/globals.bpf.o']) {
      const check = cli('gen', 'skeleton', object, '--check')
      expect(check.stderr).toBe('')
      expect(check.status).toBe(0)
    }
  })
})
