// Maps shared at load time: a pinRoot for LIBBPF_PIN_BY_NAME maps, the maps option, and maps of their
// own (BpfMap.create), typed from a Btf.
import * as fs from 'node:fs'
import * as os from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { BpfMap, BpfObject, Btf } from 'bpfkit'
import { bpfFds, fixture, openFds, thrown } from './helpers'

const root = `/sys/fs/bpf/bpfkit-shared-${process.pid}`

afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

// Every object here pins under `root`: without a pinRoot, libbpf pins LIBBPF_PIN_BY_NAME maps in /sys/fs/bpf.
async function open(version: 1 | 2, options: Parameters<typeof BpfObject.open>[1] = { pinRoot: root }): Promise<BpfObject> {
  const obj = BpfObject.open(fixture(`pinned-v${version}.bpf.o`), options)
  if (version === 1) obj.rodata.target_tgid = process.pid
  await obj.load()
  return obj
}

describe('pinRoot', () => {
  it('pins LIBBPF_PIN_BY_NAME maps there by name, and the next object (or run) reuses them', async () => {
    const first = await open(1)
    expect(first.map('tallies').pinPath).toBe(`${root}/tallies`)
    expect(first.map('scratch').pinPath).toBeNull()
    expect(fs.readdirSync(root)).toEqual(['tallies'])
    first.map('tallies').set(0, { count: 5n, last: 7 })
    first.attach()
    void process.ppid

    await using second = await open(1)
    expect(second.map('tallies').id).toBe(first.map('tallies').id)
    expect(second.map('scratch').id).not.toBe(first.map('scratch').id)
    expect(second.map('tallies').get(0)).toEqual({ count: 6n, last: 7 })
    first.close()
    // The pin keeps the map for the next run.
    await using third = await open(1)
    expect(third.map('tallies').get(0)).toEqual({ count: 6n, last: 7 })
    third.map('tallies').unpin()
    expect(fs.existsSync(`${root}/tallies`)).toBe(false)
  })

  it('a pinned map of another layout fails load, naming both layouts; nothing is left behind', async () => {
    const v1 = await open(1)
    v1.close()
    const before = { bpf: bpfFds(), fds: openFds() }
    const v2 = BpfObject.open(fixture('pinned-v2.bpf.o'), { pinRoot: root })
    const error = await v2.load().then(() => undefined, (e: unknown) => e as { code: string; message: string; hint: string })
    expect(error).toMatchObject({ code: 'EINVAL', op: 'bpf_object__load' })
    expect(error!.message.split('\n')[0]).toBe(`bpf_object__load: map 'tallies' cannot reuse the map pinned at ${root}/tallies: ` +
      'value layout struct tally struct(16){count@0 u64; last@64 u32}, not struct tally struct(16){count@0 u32; last@32 u32; extra@64 u64}')
    expect(error!.hint).toMatch(/remove the pin/)
    expect(v2.state).toBe('opened')
    v2.close()
    expect(bpfFds()).toEqual(before.bpf)
    expect(openFds()).toBe(before.fds)
    expect(fs.readdirSync(root)).toEqual(['tallies'])
  })

  it('a pin root that is not on bpffs is refused at open, with a hint, before anything is made', () => {
    const before = { bpf: bpfFds(), fds: openFds() }
    for (const dir of [os.tmpdir(), '/tmp/bpfkit-no-such-dir/pins']) {
      const error = thrown(() => BpfObject.open(fixture('pinned-v1.bpf.o'), { pinRoot: dir }))
      expect(error).toMatchObject({ code: 'EINVAL', origin: 'argument', op: 'BpfObject.open' })
      expect(error.message).toContain(`pinRoot ${dir} is not on a bpffs mount`)
      expect(error.hint).toMatch(/\/sys\/fs\/bpf/)
    }
    expect(thrown(() => BpfObject.open(fixture('pinned-v1.bpf.o'), { pinRoot: 'relative/dir' })).code).toBe('EINVAL')
    expect(fs.existsSync('/tmp/bpfkit-no-such-dir')).toBe(false)
    expect(bpfFds()).toEqual(before.bpf)
    expect(openFds()).toBe(before.fds)
  })
})

describe('the maps option and reuse', () => {
  it('replaces an object\'s maps with existing ones: a loaded map, a map fd, a created one', async () => {
    await using first = await open(1)
    first.map('tallies').set(1, { count: 1n, last: 1 })
    await using second = await open(1, { pinRoot: root, maps: { tallies: first.map('tallies'), scratch: first.map('scratch').fd } })
    expect(second.map('tallies').id).toBe(first.map('tallies').id)
    expect(second.map('scratch').id).toBe(first.map('scratch').id)
    expect(second.map('tallies').get(1)).toEqual({ count: 1n, last: 1 })

    using created = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'scratch' })
    await using third = await open(1, { pinRoot: root, maps: { scratch: created } })
    expect(third.map('scratch').id).toBe(created.id)
  })

  it('a map of another layout is refused, naming both; unknown names and bad values too', async () => {
    await using v2 = await open(2)
    const error = thrown(() => BpfObject.open(fixture('pinned-v1.bpf.o'), { maps: { tallies: v2.map('tallies') } }))
    expect(error).toMatchObject({ code: 'EINVAL', origin: 'argument', op: 'map.reuse' })
    expect(error.message).toContain('value layout struct tally struct(16){count@0 u32; last@32 u32; extra@64 u64}, not struct tally struct(16){count@0 u64; last@64 u32}')
    expect(error.hint).toMatch(/another definition/)
    expect(thrown(() => BpfObject.open(fixture('pinned-v1.bpf.o'), { maps: { nope: v2.map('tallies') } })).code).toBe('ENOENT')
    expect(thrown(() => BpfObject.open(fixture('pinned-v1.bpf.o'), { maps: { tallies: 'x' as never } })).origin).toBe('argument')
  })
})

describe('BpfMap.create', () => {
  it('creates a map typed from a Btf: the kernel keeps the types, so it is typed when reopened by id', async () => {
    const btf = Btf.parse(fixture('pinned-v1.bpf.o'))
    using tallies = BpfMap.create({ type: 'hash', name: 'made', btf, keyType: '__u32', valueType: 'struct tally', maxEntries: 8 })
    expect([tallies.keySize, tallies.valueSize, tallies.type, tallies.name]).toEqual([4, 16, 'hash', 'made'])
    tallies.set(3, { count: 9n, last: 2 })
    expect(tallies.get(3)).toEqual({ count: 9n, last: 2 })
    using again = BpfMap.fromId(tallies.id)
    expect(again.get(3)).toEqual({ count: 9n, last: 2 })
    expect(again.info()).toMatchObject({ name: 'made', maxEntries: 8, btfId: expect.any(Number) })
    expect(BpfMap.list().some((m) => m.id === tallies.id)).toBe(true)

    // A type of the kernel's own BTF (the default).
    using kernel = BpfMap.create({ type: 'array', keyType: 'u32', valueType: 'struct in6_addr', maxEntries: 2 })
    kernel.set(1, { in6_u: { u6_addr8: [0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1] } })
    expect([...kernel.get(1).in6_u.u6_addr8]).toEqual([0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1])
  })

  it('mapExtra is what the kernel keeps: a bloom filter\'s hash count, read back directly and by id', () => {
    const bloom = BpfMap.create({ type: 'bloom_filter', name: 'seen', keySize: 0, valueSize: 4, maxEntries: 64, mapExtra: 3n })
    expect(bloom.mapExtra).toBe(3n)
    using again = BpfMap.fromId(bloom.id)
    expect(again.mapExtra).toBe(3n)
    expect(thrown(() => (bloom.mapExtra = 5n)).code).toBe('EBADSTATE')
    bloom.close()
    expect(thrown(() => bloom.mapExtra).code).toBe('ECLOSED')
    // A bloom filter takes at most 15 hashes: the kernel refuses 16.
    expect(thrown(() => BpfMap.create({ type: 'bloom_filter', keySize: 0, valueSize: 4, maxEntries: 64, mapExtra: 16n }))).toMatchObject({ code: 'EINVAL', origin: 'kernel' })
  })

  it('refuses sizes that contradict the types, unknown types and names, before any syscall; kernel refusals are its errors', () => {
    const before = bpfFds()
    expect(thrown(() => BpfMap.create({ type: 'hash', keyType: 'u32', valueSize: 3, valueType: 'u64', maxEntries: 1 })).message).toContain('valueSize 3 does not match valueType')
    expect(thrown(() => BpfMap.create({ type: 'hash', keyType: 'struct bpfkit_no_such', valueSize: 8, maxEntries: 1 })).code).toBe('ENOENT')
    expect(thrown(() => BpfMap.create({ type: 'nope', keySize: 4, valueSize: 4, maxEntries: 1 })).code).toBe('EINVAL')
    expect(thrown(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, name: 'a-name-far-too-long' })).origin).toBe('argument')
    // What the kernel refuses with a bare EINVAL, refused first with why.
    const queue = thrown(() => BpfMap.create({ type: 'queue', valueType: 'u64', maxEntries: 4 }))
    expect(queue).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    expect(queue.message).toContain('BpfMap.create: a queue cannot carry BTF types: the kernel takes none with it')
    expect(queue.hint).toContain('create it with valueSize and no types')
    const half = thrown(() => BpfMap.create({ type: 'hash', keyType: 'u32', valueSize: 4, maxEntries: 1 }))
    expect(half).toMatchObject({ code: 'EINVAL', origin: 'argument', hint: 'give valueType too (a Btf\'s type name or id), or neither' })
    BpfMap.create({ type: 'bloom_filter', valueType: 'u32', maxEntries: 4 }).close()
    // A misspelt option is refused, not ignored.
    expect(thrown(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, maxEntriez: 5 } as never)).message)
      .toContain("unknown option 'maxEntriez' (options: type, name, keySize")
    const kernel = thrown(() => BpfMap.create({ type: 'hash', keySize: 0, valueSize: 4, maxEntries: 1 }))
    expect(kernel).toMatchObject({ code: 'EINVAL', errno: 22, origin: 'kernel', op: 'bpf_map_create' })
    expect(bpfFds()).toEqual(before)
  })
})
