// Typed maps on the real kernel: every map type this kernel supports, batch operations, pins, freeze,
// and bad input that must write nothing.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BpfMap, BpfObject, type Btf, type BtfType } from 'bpfkit'
import { bpfFds, fixture, thrown } from './helpers'

const flow = (saddr: number, port: number, proto: number) => ({ saddr, port, proto })
const stats = (packets: bigint, bytes: bigint, label = '') => ({ packets, bytes, label })

describe('typed maps', () => {
  let obj: BpfObject
  const cpus = (): number => obj.map('percpu_counts').valueBytes / 8

  beforeAll(async () => {
    obj = BpfObject.open(fixture('maps.bpf.o'))
    await obj.load()
  })
  afterAll(() => obj.close())
  beforeEach(() => {
    for (const name of ['flows', 'slots', 'percpu_counts', 'recent', 'routes', 'big']) obj.map(name).clear()
  })

  it('keeps what a struct holds in its padding: a key read from the map finds its entry, a value written back is byte-identical', () => {
    // struct flow { __u32 saddr; __u16 port; __u8 proto; } and a padding byte, which a program that
    // builds its key on an uninitialised stack leaves as it was.
    const flows = obj.map('flows')
    const padded = Buffer.from([1, 0, 0, 0, 80, 0, 6, 0xaa])
    flows.raw.update(padded, Buffer.alloc(flows.valueSize))
    const [key] = [...flows.keys()]
    expect(key).toEqual(flow(1, 80, 6))
    expect(JSON.stringify(key)).toBe('{"saddr":1,"port":80,"proto":6}')
    expect(flows.get(key)).toEqual(stats(0n, 0n))
    flows.set(key, stats(7n, 700n))
    expect(flows.count()).toBe(1)
    expect(flows.raw.lookup(padded)).toEqual((obj.btf as Btf).codec(flows.valueType!.id).encode(stats(7n, 700n)))
    // The same fields written afresh are another key: zero padding, as always.
    expect(flows.get(flow(1, 80, 6))).toBeUndefined()
    expect(flows.getMany([key])).toEqual([stats(7n, 700n)])
    expect(flows.deleteMany([key])).toBe(1)
    expect(flows.count()).toBe(0)

    const fifo = obj.map('fifo')
    fifo.raw.update(null, padded)
    const value = fifo.pop()
    expect(value).toEqual(flow(1, 80, 6))
    fifo.push(value)
    expect(fifo.raw.lookupAndDelete(null)).toEqual(padded)
    // A copy of its own fields is a plain object: zero padding.
    fifo.push({ ...value })
    expect(fifo.raw.lookupAndDelete(null)).toEqual(Buffer.from([1, 0, 0, 0, 80, 0, 6, 0]))
  })

  it('hash: get, set with flags, has, delete, iteration, clear', () => {
    const flows = obj.map('flows')
    expect(flows.isTyped).toBe(true)
    expect(flows.get(flow(1, 2, 3))).toBeUndefined()
    flows.set(flow(1, 80, 6), { packets: 5n, bytes: 500 }).set(flow(2, 53, 17), stats(1n, 2n, 'dns'))
    expect(flows.get(flow(1, 80, 6))).toEqual(stats(5n, 500n))
    expect(flows.has(flow(2, 53, 17))).toBe(true)
    expect(flows.has(flow(2, 53, 6))).toBe(false)
    expect(thrown(() => flows.set(flow(1, 80, 6), {}, 'noexist')).code).toBe('EEXIST')
    expect(thrown(() => flows.set(flow(9, 9, 9), {}, 'exist')).code).toBe('ENOENT')
    flows.set(flow(1, 80, 6), { packets: 6 }, 'exist')
    expect(flows.get(flow(1, 80, 6))?.packets).toBe(6n)
    expect(new Map([...flows].map(([k, v]) => [k.port, v.label]))).toEqual(new Map([[80, ''], [53, 'dns']]))
    expect([...flows.keys()].map((k) => k.saddr).sort()).toEqual([1, 2])
    expect([...flows.values()].map((v) => v.bytes).sort()).toEqual([0n, 2n])
    expect(flows.count()).toBe(2)
    expect(flows.delete(flow(2, 53, 17))).toBe(true)
    expect(flows.delete(flow(2, 53, 17))).toBe(false)
    flows.clear()
    expect(flows.count()).toBe(0)
  })

  it('set() writes omitted fields as zero, whatever the call before it left', () => {
    const flows = obj.map('flows')
    flows.set(flow(0xffffffff, 0xffff, 0xff), stats(0xffffffffffffffffn, 0xffffffffffffffffn, 'x'.repeat(8)))
    flows.set(flow(1, 80, 6), { bytes: 5n })
    expect(flows.get(flow(1, 80, 6))).toEqual(stats(0n, 5n))
    // Byte for byte, the key's padding too: a key with a stale padding byte would be another key.
    const codec = (type: BtfType | undefined) => (obj.btf as Btf).codec((type as BtfType).id)
    expect(flows.raw.lookup(codec(flows.keyType).encode(flow(1, 80, 6)))).toEqual(codec(flows.valueType).encode({ bytes: 5n }))
  })

  it('reads what a BPF program wrote and pushed', () => {
    obj.program('touch').testRun()
    obj.program('touch').testRun()
    expect(obj.map('flows').get(flow(0x0100000a, 80, 6))).toEqual(stats(2n, 200n, 'kernel'))
    expect(obj.map('fifo').pop()).toEqual(flow(0x0200000a, 53, 17))
    expect(obj.map('fifo').pop()).toEqual(flow(0x0200000a, 53, 17))
    expect(obj.map('fifo').pop()).toBeUndefined()
  })

  it('array: every index exists, delete is refused, clear zeroes', () => {
    const slots = obj.map('slots')
    expect(slots.get(3)).toEqual(stats(0n, 0n))
    slots.set(3, stats(1n, 2n, 'three'))
    expect(slots.get(3)).toEqual(stats(1n, 2n, 'three'))
    expect(slots.get(8)).toBeUndefined()
    expect(thrown(() => slots.set(8, {})).code).toBe('E2BIG')
    // Refused before the syscall, with what to do instead.
    expect(thrown(() => slots.delete(3))).toMatchObject({ code: 'EINVAL', origin: 'argument', hint: expect.stringContaining('set the element to zero instead') })
    expect(thrown(() => slots.deleteMany([3]))).toMatchObject({ code: 'EINVAL', op: 'map.deleteMany', origin: 'argument' })
    expect(slots.count()).toBe(8)
    slots.clear()
    expect(slots.get(3)).toEqual(stats(0n, 0n))
  })

  it('per-CPU maps: one value per possible CPU; one value or exactly one per CPU accepted', () => {
    const counts = obj.map('percpu_counts')
    expect(counts.perCpu).toBe(true)
    counts.set(1, 7n)
    expect(counts.get(1)).toEqual(new Array(cpus()).fill(7n))
    const each = Array.from({ length: cpus() }, (_, i) => BigInt(i + 1))
    counts.set(2, each)
    expect(counts.get(2)).toEqual(each)
    expect([...counts.entries()]).toContainEqual([2, each])
    const e = thrown(() => counts.set(3, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n].slice(0, cpus() + 1)))
    expect(e.message).toContain(`exactly ${cpus()} (one per possible CPU)`)
    expect(counts.has(3)).toBe(false)
    const slots = obj.map('percpu_slots')
    slots.set(0, { packets: 3n, label: 'cpu' })
    expect(slots.get(0)).toEqual(new Array(cpus()).fill(stats(3n, 0n, 'cpu')))
    const names = obj.map('percpu_names')
    names.set(0, 'all')
    expect(names.get(0)).toEqual(new Array(cpus()).fill('all'))
    const perCpu = Array.from({ length: cpus() }, (_, i) => `cpu${i}`)
    names.set(1, perCpu)
    expect(names.get(1)).toEqual(perCpu)
    counts.set(4, new BigUint64Array(cpus()).fill(3n))
    expect(counts.get(4)).toEqual(new Array(cpus()).fill(3n))
    const lru = obj.map('recent_percpu')
    lru.set(4, 9)
    expect(lru.get(4)).toEqual(new Array(cpus()).fill(9))
    // A value that cannot be read (a revoked proxy, a length getter that throws) is the call's BpfError.
    const revoked = Proxy.revocable([], {})
    revoked.revoke()
    const throwing = new Proxy([1n, 2n], { get: (t, k) => (k === 'length' ? (() => { throw new Error('length') })() : Reflect.get(t, k)) })
    expect(thrown(() => counts.set(5, revoked.proxy))).toMatchObject({ code: 'EINVAL', op: 'map.set' })
    expect(thrown(() => counts.setMany([[5, throwing]]))).toMatchObject({ code: 'EINVAL', op: 'map.setMany' })
    expect(counts.has(5)).toBe(false)
  })

  it('LRU hash: evicts instead of failing when full', () => {
    const recent = obj.map('recent')
    for (let i = 0; i < 100; i++) recent.set(i, BigInt(i))
    expect(recent.count()).toBeLessThanOrEqual(16)
    expect(recent.get(99)).toBe(99n)
  })

  it('LPM trie: prefix-length keys, longest match seen by the program', () => {
    const routes = obj.map('routes')
    expect(obj.program('route').testRun().retval).toBe(-1)
    routes.set({ prefixlen: 8, addr: [10, 0, 0, 0] }, 1)
    routes.set({ prefixlen: 16, addr: [10, 1, 0, 0] }, 2)
    routes.set({ prefixlen: 24, addr: [10, 2, 0, 0] }, 3)
    expect(obj.program('route').testRun().retval).toBe(2)
    expect(routes.get({ prefixlen: 32, addr: [10, 9, 9, 9] })).toBe(1)
    expect(routes.getMany().map(([k, v]) => [k.prefixlen, v]).sort()).toEqual([[16, 2], [24, 3], [8, 1]])
    expect(routes.deleteMany([{ prefixlen: 16, addr: [10, 1, 0, 0] }, { prefixlen: 12, addr: [10, 0, 0, 0] }])).toBe(1)
    expect(obj.program('route').testRun().retval).toBe(1)
  })

  it('queue and stack: push, pop, peek; full is an error unless exist replaces the oldest', () => {
    const fifo = obj.map('fifo')
    for (let i = 1; i <= 4; i++) fifo.push(flow(i, i, i))
    expect(thrown(() => fifo.push(flow(5, 5, 5))).code).toBe('E2BIG')
    fifo.push(flow(5, 5, 5), 'exist')
    expect(fifo.peek()).toEqual(flow(2, 2, 2))
    expect([fifo.pop(), fifo.pop(), fifo.pop(), fifo.pop(), fifo.pop()].map((f) => f?.saddr)).toEqual([2, 3, 4, 5, undefined])
    const lifo = obj.map('lifo')
    lifo.push(1)
    lifo.push(2)
    expect([lifo.peek(), lifo.pop(), lifo.pop(), lifo.pop()]).toEqual([2, 2, 1, undefined])
    expect(thrown(() => [...fifo.entries()]).message).toContain('a queue map has no keys')
    expect(thrown(() => fifo.get(0)).message).toContain('a queue map has no keys: use push(), pop() and peek()')
    expect(thrown(() => obj.map('seen').set(0, 1)).message).toContain('use add() and has()')
    expect(thrown(() => obj.map('flows').push({})).message).toContain('not a queue or stack')
  })

  it('bloom filter: add and has', () => {
    const seen = obj.map('seen')
    for (let i = 0; i < 50; i++) seen.add(i * 7)
    for (let i = 0; i < 50; i++) expect(seen.has(i * 7)).toBe(true)
    let falsePositives = 0
    for (let i = 0; i < 50; i++) if (seen.has(100_000 + i)) falsePositives++
    expect(falsePositives).toBeLessThan(10)
  })

  it('batch operations on 100k entries', () => {
    const big = obj.map('big')
    const entries = Array.from({ length: 100_000 }, (_, i) => [i, BigInt(i) * 3n] as const)
    big.setMany(entries)
    expect(big.count()).toBe(100_000)
    const all = big.getMany()
    expect(all.length).toBe(100_000)
    expect(all.every(([k, v]) => v === BigInt(k) * 3n)).toBe(true)
    expect(big.getMany([5, 99_999, 100_000])).toEqual([15n, 299_997n, undefined])
    expect(big.deleteMany(Array.from({ length: 50_000 }, (_, i) => i * 2))).toBe(50_000)
    expect(big.deleteMany([0, 1, 2])).toBe(1)
    expect(big.count()).toBe(49_999)
    // 'noexist' and 'exist', which the kernel's batch update does not take: one by one.
    big.setMany([[0, 1n], [2, 2n]], 'noexist')
    expect(big.getMany([0, 2])).toEqual([1n, 2n])
    big.setMany([[0, 7n]], 'exist')
    expect(big.get(0)).toBe(7n)
    expect(thrown(() => big.setMany([[4, 4n], [0, 0n]], 'noexist')).code).toBe('EEXIST')
    expect(big.get(4)).toBe(4n)
    expect(thrown(() => big.setMany([[1_000_001, 1n]], 'exist')).code).toBe('ENOENT')
    big.clear()
    expect(big.count()).toBe(0)
  })

  it('batch operations fall back to single calls where the map type has none', () => {
    const routes = obj.map('routes')
    routes.setMany([[{ prefixlen: 8, addr: [1, 0, 0, 0] }, 1], [{ prefixlen: 8, addr: [2, 0, 0, 0] }, 2]])
    expect(routes.count()).toBe(2)
    routes.clear()
    expect(routes.count()).toBe(0)
  })

  it('pins, opens the pin typed by its BTF, freezes', () => {
    const path = '/sys/fs/bpf/bpfkit-test-flows'
    fs.rmSync(path, { force: true })
    const flows = obj.map('flows')
    flows.set(flow(7, 7, 7), stats(7n, 7n, 'pinned'))
    flows.pin(path)
    expect(flows.pinPath).toBe(path)
    const mapsBefore = bpfFds().maps.length
    const again = BpfMap.openPinned(path)
    expect(bpfFds().maps.length).toBe(mapsBefore + 1)
    try {
      expect(again.type).toBe('hash')
      expect(again.isTyped).toBe(true)
      expect(again.get(flow(7, 7, 7))).toEqual(stats(7n, 7n, 'pinned'))
      again.set(flow(8, 8, 8), stats(8n, 8n))
      expect(flows.get(flow(8, 8, 8))).toEqual(stats(8n, 8n))
    } finally {
      again.close()
    }
    expect(thrown(() => again.get(flow(7, 7, 7))).code).toBe('ECLOSED')
    expect(bpfFds().maps.length).toBe(mapsBefore)
    flows.pin(path)
    expect(thrown(() => flows.pin(`${path}-2`)).code).toBe('EBUSY')
    flows.unpin()
    expect(fs.existsSync(path)).toBe(false)
    expect(thrown(() => BpfMap.openPinned(path)).code).toBe('ENOENT')
  })

  it('refuses to open a pinned program as a map', () => {
    const path = '/sys/fs/bpf/bpfkit-test-prog'
    fs.rmSync(path, { force: true })
    execFileSync('bpftool', ['prog', 'pin', 'id', String(obj.program('route').id), path])
    try {
      const e = thrown(() => BpfMap.openPinned(path))
      expect(e.code).toBe('EINVAL')
      expect(e.message).toContain('is not a map (anon_inode:bpf-prog)')
    } finally {
      fs.rmSync(path, { force: true })
    }
  })

  it('runs raw tracepoint programs on a given context', () => {
    const args = Buffer.from(new BigUint64Array([40n, 2n]).buffer)
    expect(obj.program('sum_args').testRun({ ctx: args }).retval).toBe(42)
  })

  it('a value whose string is not UTF-8 reads and writes back byte for byte', () => {
    const slots = obj.map('slots')
    const key = Buffer.from([2, 0, 0, 0])
    // struct stats { u64 packets, bytes; char label[8] }: the label holds ill-formed UTF-8.
    const bytes = Buffer.alloc(slots.valueSize)
    bytes.writeBigUInt64LE(7n, 0)
    bytes.set([0xff, 0x61, 0xc3, 0xed, 0xa0, 0x80, 0xe2], 16)
    slots.raw.update(key, bytes)
    const value = slots.get(2)
    expect(value.label).toBe('\udcffa\udcc3\udced\udca0\udc80\udce2')
    slots.set(2, value)
    expect(slots.raw.lookup(key)).toEqual(bytes)
    slots.setMany([[2, value]])
    expect(slots.raw.lookup(key)).toEqual(bytes)
  })

  it("int64: 'number' per map: the same map, its 64-bit fields as numbers", () => {
    const flows = obj.map('flows')
    const numbers = obj.map('flows', { int64: 'number' })
    expect(numbers).not.toBe(flows)
    expect(obj.map('flows', { int64: 'number' })).toBe(numbers)
    expect(obj.map('flows', { int64: 'bigint' })).toBe(flows)
    expect(numbers.int64).toBe('number')
    numbers.set(flow(1, 2, 3), { packets: 5, bytes: 2 ** 40 })
    expect(flows.get(flow(1, 2, 3))).toEqual(stats(5n, 2n ** 40n))
    expect(numbers.get(flow(1, 2, 3))).toEqual({ packets: 5, bytes: 2 ** 40, label: '' })
    expect(numbers.getMany()).toEqual([[flow(1, 2, 3), { packets: 5, bytes: 2 ** 40, label: '' }]])
    expect(obj.map('percpu_counts', { int64: 'number' }).set(1, 3).get(1)).toEqual(Array(cpus()).fill(3))
    expect(thrown(() => obj.map('flows', { int64: 'float' as never })).message).toContain("int64 must be 'bigint' or 'number'")
  })

  it('refuses bad input before writing anything', () => {
    const flows = obj.map('flows')
    flows.set(flow(1, 1, 1), stats(1n, 1n, 'keep'))
    const cases: Array<[() => unknown, string]> = [
      [() => flows.set(5 as never, {}), 'key: expected an object (struct flow), got 5'],
      [() => flows.set(flow(1, 1, 1), { packets: 1n, extra: 1 }), "value.extra: struct stats has no field 'extra'"],
      [() => flows.set(flow(1, 1, 1), { label: 'much too long' }), 'value.label: "much too long" is 13 bytes, more than char[8] holds (8)'],
      [() => flows.set(flow(1, 1, 1), { packets: -1 }), 'value.packets: -1 does not fit __u64'],
      [() => flows.set({ saddr: 1, port: 65536, proto: 1 }, {}), 'key.port: 65536 does not fit __u16'],
      [() => flows.set(flow(1, 1, 1), {}, 'sometimes' as never), "flags must be 'any', 'noexist', 'exist'"],
      [() => flows.setMany([[flow(2, 2, 2), {}], [flow(3, 3, 3), { bytes: 'x' }]]), 'entries[1][1].bytes: expected a bigint or number'],
    ]
    for (const [call, message] of cases) {
      const e = thrown(call)
      expect(e.code).toBe('EINVAL')
      expect(e.message).toContain(message)
    }
    expect(flows.get(flow(1, 1, 1))).toEqual(stats(1n, 1n, 'keep'))
    expect(flows.count()).toBe(1)

    const untyped = obj.map('untyped')
    expect(untyped.isTyped).toBe(false)
    const e = thrown(() => untyped.get(1))
    expect(e.code).toBe('ENOBTF')
    expect(e.hint).toContain('__type(key')
    untyped.raw.update(Buffer.alloc(4), Buffer.alloc(8, 1))
    expect(untyped.raw.lookup(Buffer.alloc(4))).toEqual(Buffer.alloc(8, 1))
    // Each lookup's Buffer is its own: later lookups and updates leave it be.
    const first = untyped.raw.lookup(Buffer.alloc(4))!
    untyped.raw.update(Buffer.alloc(4), Buffer.alloc(8, 2))
    const second = untyped.raw.lookup(Buffer.alloc(4))!
    expect([first, second]).toEqual([Buffer.alloc(8, 1), Buffer.alloc(8, 2)])
    second.fill(3)
    expect([untyped.raw.lookup(Buffer.alloc(4)), first]).toEqual([Buffer.alloc(8, 2), Buffer.alloc(8, 1)])
    expect(untyped.raw.lookup(Buffer.from([1, 0, 0, 0]))).toBeUndefined()
    expect(thrown(() => untyped.raw.update(Buffer.alloc(3), Buffer.alloc(8))).message).toContain('key is 3 bytes, expected 4')
  })

  it('resizes maps and switches programs off before load', async () => {
    const other = BpfObject.open(fixture('maps.bpf.o'))
    try {
      other.map('flows').maxEntries = 2000
      other.program('route').autoload = false
      await other.load()
      const flows = other.map('flows')
      flows.setMany(Array.from({ length: 2000 }, (_, i) => [flow(i, 1, 1), {}] as const))
      expect(flows.count()).toBe(2000)
      expect(thrown(() => flows.set(flow(2000, 1, 1), {})).code).toBe('E2BIG')
      expect(thrown(() => other.program('route').fd).code).toBe('EBADSTATE')
      expect(other.program('touch').fd).toBeGreaterThan(0)
    } finally {
      other.close()
    }
  })

  it('a frozen map refuses writes from user space', async () => {
    const other = BpfObject.open(fixture('maps.bpf.o'))
    try {
      await other.load()
      const slots = other.map('slots')
      slots.set(1, stats(1n, 1n, 'before'))
      slots.freeze()
      const e = thrown(() => slots.set(1, stats(2n, 2n)))
      expect(e.code).toBe('EPERM')
      expect(e.hint).toContain('the map is read-only for user space: frozen')
      expect(slots.get(1)).toEqual(stats(1n, 1n, 'before'))
    } finally {
      other.close()
    }
  })
})
