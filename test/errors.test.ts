// Bad input and wrong states: each a BpfError with the right code, never a crash.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BpfError, BpfMap, BpfObject, Btf, VerifierError, capabilities, dropCapabilities, openSkeleton, probeKernel, resolveBinary, selftest, setLogger,
} from 'bpfkit'
import { bpfFds, fixture, hostile, node, openSequence, rejected, revoked, root, thrown, type Ran } from './helpers'
import { sections } from './fuzz/mutate'

/** Runs a script with bpfkit in a child process, so that a crash or a hang fails the test, not the run. */
function child(script: string): Promise<Ran> {
  return node(`const { BpfObject } = require(${JSON.stringify(path.join(root, 'dist/index.js'))});${script}`, { timeoutMs: 20_000 })
}


describe('errors', () => {
  // These calls fail on purpose: keep libbpf's warnings about them out of the test output.
  beforeAll(() => setLogger(() => {}))
  afterAll(() => setLogger(null))

  it('a missing file is ENOENT', () => {
    const error = thrown(() => BpfObject.open('/nonexistent/thing.bpf.o'))
    expect(error).toMatchObject({ code: 'ENOENT', errno: 2, op: 'bpf_object__open_file' })
    expect(error.message).toContain('/nonexistent/thing.bpf.o')
  })

  it('a file that is not ELF is EFORMAT with a hint', () => {
    const file = path.join(os.tmpdir(), `bpfkit-not-elf-${process.pid}.o`)
    fs.writeFileSync(file, 'this is not an ELF file\n')
    try {
      const error = thrown(() => BpfObject.open(file))
      expect(error).toMatchObject({ code: 'EFORMAT', op: 'bpf_object__open_file' })
      expect(error.hint).toMatch(/clang/)
    } finally {
      fs.rmSync(file)
    }
  })

  it('a SEC() that names no program type is refused before load, with the name it nearly is', async () => {
    // The fixture with its section name misspelt everywhere the ELF holds it.
    const bytes = Buffer.from(fs.readFileSync(fixture('sequence.bpf.o')).toString('latin1').split('tracepoint/').join('tracepoinx/'), 'latin1')
    const obj = BpfObject.open(bytes)
    expect(obj.program('emit').type).toBe('unspec')
    const error = await rejected(obj.load())
    expect(error).toMatchObject({ code: 'EINVAL', origin: 'argument', op: 'bpf_object__load' })
    expect(error.message).toContain(`program 'emit' has SEC("tracepoinx/syscalls/sys_enter_getegid"), which names no program type libbpf knows`)
    expect(error.hint).toContain('did you mean SEC("tracepoint/syscalls/sys_enter_getegid")?')
    obj.close()
  })

  it('a truncated object is refused', () => {
    const bytes = fs.readFileSync(fixture('sequence.bpf.o'))
    const error = thrown(() => BpfObject.open(bytes.subarray(0, bytes.length >> 1)))
    expect(error.op).toBe('bpf_object__open_mem')
    expect(['EFORMAT', 'ELIBELF', 'EINVAL']).toContain(error.code)
  })

  it('unknown program and map names list the available ones', () => {
    using obj = BpfObject.open(fixture('sequence.bpf.o'))
    const program = thrown(() => obj.program('nope'))
    expect(program).toMatchObject({ code: 'ENOENT', op: 'BpfObject.program' })
    expect(program.message).toContain('available: emit')
    const map = thrown(() => obj.map('nope'))
    expect(map.code).toBe('ENOENT')
    expect(map.message).toMatch(/available: .*settings.*counters.*events.*other/)
  })

  it('raw map access checks key and value sizes before the syscall', async () => {
    await using obj = await openSequence()
    const settings = obj.map('settings')
    expect(thrown(() => settings.raw.lookup(Buffer.alloc(3)))).toMatchObject({ code: 'EINVAL', op: 'bpf_map_lookup_elem' })
    expect(thrown(() => settings.raw.update(Buffer.alloc(4), Buffer.alloc(15)))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => settings.raw.delete(Buffer.alloc(8))).message).toContain('key is 8 bytes, expected 4')
    expect(thrown(() => settings.raw.lookup('key' as unknown as Buffer)).code).toBe('EINVAL')
    expect(settings.raw.lookup(Buffer.alloc(4))).toHaveLength(16)
  })

  it('every call after close() is ECLOSED', async () => {
    const obj = await openSequence()
    const program = obj.program('emit')
    const map = obj.map('settings')
    obj.close()
    obj.close()
    for (const call of [
      () => obj.name,
      () => program.fd,
      () => program.attach(),
      () => map.fd,
      () => map.raw.lookup(Buffer.alloc(4)),
      () => obj.ringBuffer('events'),
    ]) {
      expect(thrown(call).code).toBe('ECLOSED')
    }
    expect((await rejected(obj.load())).code).toBe('ECLOSED')
  })

  it('calls in the wrong state are EBADSTATE', async () => {
    const obj = BpfObject.open(fixture('sequence.bpf.o'))
    expect(thrown(() => obj.map('settings').raw.lookup(Buffer.alloc(4))).code).toBe('EBADSTATE')
    await obj.load()
    expect((await rejected(obj.load())).code).toBe('EBADSTATE')
    expect(thrown(() => (obj.map('events').maxEntries = 4096)).code).toBe('EBADSTATE')
    expect(thrown(() => (obj.program('emit').autoload = false)).code).toBe('EBADSTATE')
    expect(thrown(() => obj.ringBuffer('settings')).code).toBe('EINVAL')
    obj.close()
  })

  it('arguments are checked', () => {
    expect(thrown(() => BpfObject.open(42 as unknown as string)).code).toBe('EINVAL')
    expect(thrown(() => BpfObject.open('x', { kernelLogLevel: -1 })).code).toBe('EINVAL')
    expect(thrown(() => BpfObject.open('x', { logLevel: 'loud' as 'debug' })).code).toBe('EINVAL')
    // A misspelt option is refused: a pinroot that meant pinRoot would have pinned nothing.
    expect(thrown(() => BpfObject.open(fixture('sequence.bpf.o'), { pinroot: '/sys/fs/bpf' } as never)).message)
      .toContain("BpfObject.open: unknown option 'pinroot' (options: objectName, btfCustomPath")
    using obj = BpfObject.open(fixture('sequence.bpf.o'))
    expect(thrown(() => (obj.map('events').maxEntries = 1.5)).code).toBe('EINVAL')
    expect(thrown(() => obj.program('emit').attachTracepoint('', 'x')).code).toBe('EINVAL')
    // A NUL byte would cut a path short in C: pinning, opening or parsing another file than the one named.
    const nul = (fn: () => unknown): void => expect(thrown(fn)).toMatchObject({ code: 'EINVAL', message: expect.stringContaining('holds a NUL byte') })
    nul(() => BpfObject.open(`${fixture('sequence.bpf.o')}\0.bak`))
    nul(() => BpfObject.open(fixture('sequence.bpf.o'), { btfCustomPath: '/sys/kernel/btf/vmlinux\0x' }))
    nul(() => Btf.parse('/sys/kernel/btf/vmlinux\0x'))
    nul(() => BpfMap.openPinned('/sys/fs/bpf/x\0y'))
    expect(thrown(() => BpfMap.openPinned('/etc/hostname'))).toMatchObject({ code: 'EACCES', hint: expect.stringContaining('on a bpffs mount') })
    using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 })
    nul(() => map.pin('/sys/fs/bpf/bpfkit-nul\0suffix'))
    expect(fs.existsSync('/sys/fs/bpf/bpfkit-nul')).toBe(false)
    nul(() => obj.program('emit').attachTracepoint('syscalls', 'sys_enter_getegid\0x'))
  })

  it('options that cannot be read (a revoked proxy, a throwing getter), listeners that are not functions and a ring named twice are EINVAL', async () => {
    const throwing = (key: string): object => Object.defineProperty({}, key, { enumerable: true, get: () => { throw new Error(`no ${key}`) } })
    const invalid = (fn: () => unknown, message: string): void => {
      const error = thrown(fn)
      expect(error).toMatchObject({ code: 'EINVAL', origin: 'argument' })
      expect(error.message).toContain(message)
    }
    const options = (value: object): never => value as never
    invalid(() => BpfObject.open(fixture('sequence.bpf.o'), options(revoked())), 'options could not be read')
    invalid(() => BpfObject.open(fixture('sequence.bpf.o'), options(throwing('int64'))), 'options could not be read: no int64')
    invalid(() => BpfObject.open(fixture('sequence.bpf.o'), { limits: options(throwing('mapBytes')) }), 'limits.mapBytes could not be read')
    invalid(() => BpfObject.open(fixture('sequence.bpf.o'), { maps: options(revoked()) }), 'maps could not be read')
    invalid(() => BpfObject.open(fixture('sequence.bpf.o'), { extraBtf: options(revoked()) }), 'extraBtf could not be read')
    await using obj = await openSequence()
    invalid(() => obj.map('counters', options(revoked())), 'options could not be read')
    invalid(() => obj.map('counters', options(throwing('chars'))), 'no chars')
    invalid(() => obj.btf!.codec(1, options(throwing('int64'))), 'no int64')
    for (const key of ['type', 'decoder', 'batchEvents', 'highWaterMark', 'int64', 'signal', 'wakeup']) {
      invalid(() => obj.ringBuffer('events', options(throwing(key))), `no ${key}`)
    }
    invalid(() => obj.ringBuffer('events', options(revoked())), 'options could not be read')
    invalid(() => obj.ringBuffer(options(revoked())), 'the map names could not be read')
    invalid(() => obj.ringBuffer('events', { decoder: options(revoked()) }), 'decoder could not be read')
    invalid(() => obj.ringBuffer('events', { signal: options(revoked()) }), 'signal could not be read')
    invalid(() => obj.ringBuffer('events', { wakeup: options(revoked()) }), 'the policy could not be read')
    invalid(() => obj.ringBuffer(['events', 'other', 'events']), "map 'events' is named twice")
    invalid(() => obj.perfBuffer('perf_events', options(throwing('withCpu'))), 'no withCpu')
    using reader = obj.ringBuffer('events')
    invalid(() => (reader.wakeup = options(throwing('maxLatencyMs'))), 'the policy could not be read: no maxLatencyMs')
    for (const listener of [5, 'f', null, Symbol('l'), {}]) {
      invalid(() => reader.on('data', listener as never), 'ringBuffer.on: the listener must be a function')
      invalid(() => reader.once('batch', listener as never), 'ringBuffer.once: the listener must be a function')
      invalid(() => reader.prependListener('data', listener as never), 'the listener must be a function')
      invalid(() => reader.off('data', listener as never), 'ringBuffer.off: the listener must be a function')
    }
    expect(reader.listenerCount('data')).toBe(0)
    const perf = obj.perfBuffer('perf_events')
    invalid(() => perf.addListener('data', 7 as never), 'perfBuffer.addListener: the listener must be a function')
    perf.close()

    // Every other call that takes an object, with one that throws whatever is asked of it.
    const map = obj.map('counters')
    const calls: Array<[string, (value: never) => unknown]> = [
      ['BpfObject.attach', (o) => obj.attach(o)],
      ['userRingBuffer', (o) => obj.userRingBuffer('events', o)],
      ['program.testRun', (o) => obj.program('emit').testRun(o)],
      ['BpfMap.fromFd', (o) => BpfMap.fromFd(map.fd, o)],
      ['BpfMap.create', (o) => BpfMap.create(o)],
      ['map.set (value)', (o) => map.set(0, o)],
      ['map.set (key)', (o) => map.set(o, {})],
      ['map.get', (o) => map.get(o)],
      ['map.setMany', (o) => map.setMany(o)],
      ['map.setMany (an entry)', (o) => map.setMany([o])],
      ['map.getMany', (o) => map.getMany(o)],
      ['map.deleteMany', (o) => map.deleteMany(o)],
      ['btf.codec encode', (o) => obj.btf!.codec(map.handle.btfValueTypeId).encode(o)],
      ['setLogger', (o) => setLogger(o)],
      ['capabilities (pid)', (o) => capabilities(o)],
      ['capabilities (tid)', (o) => capabilities('self', o)],
      ['dropCapabilities', (o) => dropCapabilities(o)],
      ['Btf.merge', (o) => Btf.merge(o)],
      ['Btf.copyOf', (o) => Btf.copyOf(o)],
      ['openSkeleton', (o) => openSkeleton(o)],
    ]
    for (const [what, call] of calls) {
      for (const value of [revoked() as never, hostile()]) {
        const error = thrown(() => call(value))
        expect(error.code, what).toBe('EINVAL')
      }
    }
    expect(thrown(() => map.set(0, hostile())).message).toBe('value: could not be read: hostile')
    for (const value of [revoked() as never, hostile(), { timeoutMs: Number.NaN }]) expect(await rejected(selftest(value))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => resolveBinary('libc.so.6\0x'))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => capabilities(2 ** 30 - 1))).toMatchObject({ code: 'ENOENT', hint: `no process ${2 ** 30 - 1}` })
  })

  it('maxEntries of a global-data map is refused before load (libbpf would unmap memory of the process at close)', async () => {
    const result = await child(`
      const obj = BpfObject.open(${JSON.stringify(fixture('globals.bpf.o'))}, { logger: () => {} })
      const codes = obj.maps.filter((map) => map.isInternal).map((map) => {
        try { map.maxEntries = 1 << 16; return 'set' } catch (e) { return e.code }
      })
      obj.load().then(() => { obj.close(); console.log(JSON.stringify(codes)) })`)
    expect(result.signal).toBeNull()
    expect(JSON.parse(result.stdout)).toEqual(['EINVAL', 'EINVAL', 'EINVAL', 'EINVAL'])
  })

  describe('arenas at a fixed address (map_extra)', () => {
    const arena = JSON.stringify(fixture('arena.bpf.o'))
    // The process's mappings of BPF maps, and whether a range overlaps any mapping.
    const maps = `
      const fs = require('fs')
      const lines = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter(Boolean)
      const arenas = () => lines().filter((l) => / rw-s .*anon_inode:bpf-map/.test(l))
      const used = (lo, hi) => lines().some((l) => { const [s, e] = l.split(' ')[0].split('-').map((x) => BigInt('0x' + x)); return s < hi && lo < e })
      const failure = (e) => ({ name: e.name, code: e.code, op: e.op, message: e.message, hint: e.hint })`

    it('one that the process already uses is refused (libbpf would map the arena over it)', async (ctx) => {
      if (!probeKernel().mapTypes.arena) ctx.skip(`Linux ${os.release()} has no arena maps (Linux 6.9 added them)`)
      // The first object's arena goes where the kernel puts it; the second asks for exactly that range:
      // libbpf's MAP_FIXED would replace the first object's arena under it.
      const result = await child(`${maps}
        ;(async () => {
          const first = BpfObject.open(${arena})
          first.map('arena').mapExtra = 0n
          const before = new Set(arenas())
          await first.load()
          const held = arenas().filter((l) => !before.has(l))
          const second = BpfObject.open(${arena})
          second.map('arena').mapExtra = BigInt('0x' + held[0].split('-')[0])
          const error = await second.load().then(() => null, failure)
          const after = arenas().filter((l) => !before.has(l))
          second.close()
          const afterSecond = arenas().filter((l) => !before.has(l))
          first.close()
          console.log(JSON.stringify({ held, error, after, afterSecond, end: arenas().filter((l) => !before.has(l)) }))
        })()`)
      expect(result.signal).toBeNull()
      const { held, error, after, afterSecond, end } = JSON.parse(result.stdout)
      expect(held).toHaveLength(1)
      const [start, stop] = (held[0] as string).split(' ')[0]!.split('-')
      expect(BigInt(`0x${stop}`) - BigInt(`0x${start}`)).toBe(4n * 4096n)
      expect(error).toMatchObject({ name: 'BpfError', code: 'EEXIST', op: 'bpf_object__load' })
      expect(error.message).toContain(`arena 'arena' asks for the fixed address range 0x${start}–0x${stop}`)
      expect(error.hint).toContain('map_extra')
      expect(after).toEqual(held)
      expect(afterSecond).toEqual(held)
      expect(end).toEqual([])
    })

    it('a free one is held from load() until the arena lands there, and nothing stays after close()', async (ctx) => {
      if (!probeKernel().mapTypes.arena) ctx.skip(`Linux ${os.release()} has no arena maps (Linux 6.9 added them)`)
      // arena.bpf.o asks for 1 << 44. That is free in a plain process and inside AddressSanitizer's
      // shadow memory in an ASan build: either way bpfkit must not map over what is there.
      const result = await child(`${maps}
        ;(async () => {
          const range = [1n << 44n, (1n << 44n) + 4n * 4096n]
          const free = !used(...range)
          const obj = BpfObject.open(${arena})
          const error = await obj.load().then(() => null, failure)
          const loaded = lines().filter((l) => l.startsWith('100000000000-'))
          obj.close()
          console.log(JSON.stringify({ free, error, loaded, end: free ? used(...range) : null }))
        })()`)
      expect(result.signal).toBeNull()
      const { free, error, loaded, end } = JSON.parse(result.stdout)
      if (free) {
        expect(error).toBeNull()
        expect(loaded).toHaveLength(1)
        expect(loaded[0]).toMatch(/^100000000000-100000004000 rw-s .*anon_inode:bpf-map/)
        expect(end).toBe(false)
      } else {
        expect(error).toMatchObject({ name: 'BpfError', code: 'EEXIST' })
      }
    })
  })

  it('update flags and lookup flags of any type are a BpfError naming the argument', async () => {
    await using obj = await openSequence()
    const settings = obj.map('settings')
    for (const flags of [{}, Object.create(null), Symbol('x'), 'toString', '__proto__', -1, 1.5, NaN, 2 ** 40, 1n, null]) {
      const error = thrown(() => settings.set(0, { pid: 1 }, flags as 'any'))
      expect(error).toMatchObject({ code: 'EINVAL', op: 'map.set' })
      expect(error.message).toContain('flags must be')
      expect(thrown(() => settings.get(0, flags as number))).toMatchObject({ code: 'EINVAL', op: 'map.get' })
      expect(thrown(() => settings.raw.lookup(Buffer.alloc(4), flags as number))).toMatchObject({ code: 'EINVAL' })
    }
  })

  it("the kernel's internal ENOTSUPP (524) is EOPNOTSUPP, 'Operation not supported'", async () => {
    await using obj = await openSequence()
    // BPF_PROG_TEST_RUN of a tracepoint program: the kernel has no test runner for it.
    const error = thrown(() => obj.program('emit').testRun())
    expect(error).toMatchObject({ code: 'EOPNOTSUPP', errno: 524, op: 'bpf_prog_test_run_opts' })
    expect(error.message).toContain('Operation not supported')
  })

  it('open() takes regular files only: a FIFO with no writer would block the thread forever', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-errors-'))
    try {
      const fifo = path.join(dir, 'object.bpf.o')
      execFileSync('mkfifo', [fifo])
      const result = await child(`
        for (const p of [${JSON.stringify(fifo)}, ${JSON.stringify(dir)}, '/dev/zero']) {
          try { BpfObject.open(p) } catch (e) { console.log(e.code, e.op, e.message.split('\\n')[0]) }
        }`)
      expect(result.signal).toBeNull()
      expect(result.stdout.trim().split('\n')).toEqual([
        `EINVAL bpf_object__open_file bpf_object__open_file: ${fifo} is a FIFO, not a regular file`,
        `EISDIR bpf_object__open_file bpf_object__open_file: ${dir} is a directory`,
        'EINVAL bpf_object__open_file bpf_object__open_file: /dev/zero is a device, not a regular file',
      ])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('limits: objects larger than limits.objectBytes and maps over limits.mapBytes are refused before the work', async () => {
    const bytes = fs.readFileSync(fixture('maps.bpf.o'))
    for (const source of [fixture('maps.bpf.o'), bytes]) {
      const error = thrown(() => BpfObject.open(source, { limits: { objectBytes: 1000 } }))
      expect(error).toMatchObject({ code: 'E2BIG' })
      expect(error.hint).toMatch(/limits\.objectBytes/)
    }
    expect(thrown(() => BpfObject.open(bytes, { limits: { mapBytes: -1 } }))).toMatchObject({ code: 'EINVAL' })
    // A hash map of 2^26 preallocated entries: gigabytes of kernel memory and seconds in BPF_MAP_CREATE.
    const before = bpfFds()
    const obj = BpfObject.open(bytes)
    obj.map('flows').maxEntries = 1 << 26
    const error = await rejected(obj.load())
    expect(error).toMatchObject({ code: 'E2BIG', op: 'bpf_object__load' })
    expect(error.message).toMatch(/more than limits\.mapBytes \(1024 MiB\): flows \d+ MiB/)
    expect(bpfFds()).toEqual(before)
    obj.close()
    // 5 KB whose .bss section says 1.75 GiB: libbpf would map and copy it all, the kernel allocate it.
    const crafted = fs.readFileSync(fixture('globals.bpf.o'))
    const bss = sections(crafted).find((section) => section.name === '.bss')!
    crafted.writeBigUInt64LE(0x70000000n, bss.header + 0x20)
    const hostile = BpfObject.open(crafted)
    const rss = process.memoryUsage().rss
    expect(await rejected(hostile.load())).toMatchObject({ code: 'E2BIG' })
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20)
    hostile.close()
    // A trusted object may take more; within the limit, the same object loads.
    const trusted = BpfObject.open(bytes, { limits: { mapBytes: Infinity } })
    trusted.map('flows').maxEntries = 1 << 16
    await trusted.load()
    trusted.close()
  })

  it('a program the verifier rejects is a VerifierError carrying the log', async () => {
    const obj = BpfObject.open(fixture('rejected.bpf.o'), { logger: () => {} })
    const error = await rejected(obj.load())
    expect(error).toBeInstanceOf(VerifierError)
    const verifier = error as VerifierError
    expect(verifier.program).toBe('unchecked_lookup')
    expect(verifier.op).toBe('bpf_object__load')
    expect(verifier.log).toMatch(/invalid mem access 'map_value_or_null'/)
    expect(verifier.message).toMatch(/rejected by the verifier[\s\S]*invalid mem access/)
    // The stack points at the caller, not at the worker that ran the load.
    expect(verifier.stack).toContain('errors.test.ts')
    expect(obj.state).toBe('failed')
    expect(thrown(() => obj.program('unchecked_lookup').fd).code).toBe('EBADSTATE')
    obj.close()
  })

  it('a missing tracepoint is ENOENT with a hint', async () => {
    await using obj = BpfObject.open(fixture('sequence.bpf.o'))
    await obj.load()
    const error = thrown(() => obj.program('emit').attachTracepoint('syscalls', 'sys_enter_no_such_call'))
    expect(error).toMatchObject({ code: 'ENOENT', op: 'bpf_program__attach_tracepoint' })
    expect(error.hint).toMatch(/tracepoint|tracefs/)
  })

  it('routes libbpf messages to the logger with their level', async () => {
    const messages: [string, string][] = []
    const obj = BpfObject.open(fixture('rejected.bpf.o'), {
      logger: (level, message) => messages.push([level, message]),
      logLevel: 'debug',
    })
    await rejected(obj.load())
    obj.close()
    expect(messages.some(([level]) => level === 'debug')).toBe(true)
    expect(messages.some(([level, message]) => level === 'warn' && message.includes('failed to load'))).toBe(true)
  })
})
