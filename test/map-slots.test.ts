// Maps whose values are kernel objects: programs in a prog_array (tail calls), maps in a map-in-map,
// swapped while a program reads through them.
import { describe, expect, it } from 'vitest'
import { BpfMap, BpfObject, Btf } from 'bpfkit'
import { bpfFds, fixture, thrown } from './helpers'

async function load(): Promise<BpfObject> {
  const obj = BpfObject.open(fixture('map-in-map.bpf.o'))
  obj.rodata.target_pid = process.pid
  await obj.load()
  return obj
}

/** An array map like the outer map's inner ones, holding `value` at index 0. */
function inner(value: bigint): BpfMap {
  const map = BpfMap.create({ type: 'array', name: 'inner', keyType: 'u32', valueType: 'u64', maxEntries: 1 })
  map.set(0, value)
  return map
}

describe('map-in-map', () => {
  it('takes BpfMap values like its template and reads back their ids; a program reading through it sees each swap', async () => {
    await using obj = await load()
    const outer = obj.map('outer')
    expect(outer.innerMap).toMatchObject({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 })
    using a = inner(111n)
    using b = inner(222n)
    outer.set(0, a)
    expect(outer.get(0)).toBe(a.id)
    expect([...outer.entries()]).toEqual([[0, a.id]])
    using reader = obj.program('read_inner').attachTracepoint('syscalls', 'sys_enter_getppid')
    void process.ppid
    expect(obj.bss.seen).toBe(111n)
    // Swap back and forth while the program reads on every getppid(): it sees one map or the other, never none.
    const seen = new Set<bigint>()
    for (let i = 0; i < 200; i++) {
      outer.set(0, i % 2 === 0 ? b : a)
      void process.ppid
      seen.add(obj.bss.seen as bigint)
    }
    expect(seen).toEqual(new Set([111n, 222n]))
    expect(obj.bss.missing).toBe(0n)
    expect(obj.bss.reads).toBe(201n)
    expect(outer.delete(0)).toBe(true)
    void process.ppid
    expect(obj.bss.missing).toBe(1n)
    void reader
  })

  it('refuses an inner map of another layout, naming both, and values that are not maps; nothing leaks', async () => {
    const before = bpfFds()
    const obj = await load()
    const outer = obj.map('outer')
    const hash = BpfMap.create({ type: 'hash', name: 'wrong', keySize: 4, valueSize: 8, maxEntries: 1 })
    const layout = thrown(() => outer.set(0, hash))
    expect(layout).toMatchObject({ code: 'EINVAL', origin: 'argument', op: 'map.set' })
    expect(layout.message).toContain("map 'wrong' cannot be an inner map of 'outer': type hash, not array")
    expect(layout.hint).toMatch(/__array\(values/)
    const bigger = BpfMap.create({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 1 })
    expect(thrown(() => outer.set(0, bigger)).message).toContain('value size 16, not 8')
    const program = thrown(() => outer.set(0, obj.program('land')))
    expect(program).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    expect(program.message).toContain("map 'outer' is a array_of_maps: its values are BpfMaps, not program 'land' (tracepoint)")
    expect(program.hint).toMatch(/prog_array/)
    expect(thrown(() => outer.set(5, hash)).code).toBe('EINVAL')
    hash.close()
    bigger.close()
    obj.close()
    expect(bpfFds()).toEqual(before)
  })

  it('map.innerMap set before load replaces the declared template: its inner maps are like the one given', async () => {
    const obj = BpfObject.open(fixture('map-in-map.bpf.o'))
    obj.rodata.target_pid = process.pid
    using template = BpfMap.create({ type: 'array', keyType: 'u32', valueType: 'u64', maxEntries: 4 })
    obj.map('outer').innerMap = template
    expect(obj.map('outer').innerMap).toMatchObject({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 })
    expect(thrown(() => (obj.map('outer').innerMap = {} as never))).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    await obj.load()
    using four = BpfMap.create({ type: 'array', keyType: 'u32', valueType: 'u64', maxEntries: 4 })
    four.set(0, 44n)
    obj.map('outer').set(0, four)
    using reader = obj.program('read_inner').attachTracepoint('syscalls', 'sys_enter_getppid')
    void process.ppid
    expect(obj.bss.seen).toBe(44n)
    // The declaration's maxEntries 1 no longer fits.
    using one = inner(1n)
    expect(thrown(() => obj.map('outer').set(1, one)).message).toContain('maxEntries 1, not 4')
    expect(thrown(() => (obj.map('outer').innerMap = template)).code).toBe('EBADSTATE')
    obj.close()
    void reader
  })

  it('a map of its own can hold maps too: BpfMap.create with innerMap', () => {
    using template = inner(0n)
    using outer = BpfMap.create({ type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 4, innerMap: template })
    using one = inner(1n)
    outer.set(7, one)
    expect(outer.get(7)).toBe(one.id)
    expect(BpfMap.fromId(outer.get(7) as number).get(0)).toBe(1n)
  })
})

describe('slot maps, many at a time', () => {
  it('count, getMany, setMany, deleteMany and clear work on a map of maps and a prog_array as on other maps', async () => {
    await using obj = await load()
    const outer = obj.map('outer')
    using a = inner(1n)
    using b = inner(2n)
    outer.setMany([[0, a], [1, b]])
    expect(outer.count()).toBe(2)
    expect(outer.getMany()).toEqual([[0, a.id], [1, b.id]])
    expect(outer.getMany([1, 0])).toEqual([b.id, a.id])
    // Every slot is checked before anything is written: a program among maps writes nothing.
    expect(thrown(() => outer.setMany([[0, b], [1, obj.program('land')]])).code).toBe('EINVAL')
    expect(outer.get(0)).toBe(a.id)
    expect(outer.deleteMany([0])).toBe(1)
    expect(outer.count()).toBe(1)
    outer.clear()
    expect(outer.count()).toBe(0)
    const jumps = obj.map('jumps')
    jumps.setMany([[0, obj.program('land')], [1, obj.program('land')]])
    expect(jumps.getMany()).toEqual([[0, obj.program('land').id], [1, obj.program('land').id]])
    jumps.clear()
    expect(jumps.count()).toBe(0)
    // A sockmap of 4-byte values refuses lookups (ENOSPC): clear() needs none.
    using sockets = BpfMap.create({ type: 'sockmap', keySize: 4, valueSize: 4, maxEntries: 4 })
    sockets.clear()
  })
})

describe('prog_array', () => {
  it('takes BpfProgram values as tail call targets and reads back their ids', async () => {
    await using obj = await load()
    const jumps = obj.map('jumps')
    using link = obj.program('jump').attachTracepoint('syscalls', 'sys_enter_getppid')
    void process.ppid
    expect(obj.bss.landed).toBe(0n)
    jumps.set(0, obj.program('land'))
    expect(jumps.get(0)).toBe(obj.program('land').id)
    expect(jumps.get(1)).toBeUndefined()
    void process.ppid
    void process.ppid
    expect(obj.bss.landed).toBe(2n)
    jumps.delete(0)
    void process.ppid
    expect(obj.bss.landed).toBe(2n)
    void link
  })

  it('refuses a program of another type (the kernel\'s EINVAL, with a hint) and values that are not programs', async () => {
    const before = bpfFds()
    const obj = await load()
    const jumps = obj.map('jumps')
    const wrongType = thrown(() => jumps.set(0, obj.program('other_type')))
    expect(wrongType).toMatchObject({ code: 'EINVAL', origin: 'kernel', op: 'bpf_map_update_elem' })
    expect(wrongType.hint).toMatch(/prog_array holds programs of one type/)
    const notProgram = thrown(() => jumps.set(0, obj.map('outer')))
    expect(notProgram).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    expect(notProgram.message).toContain("its values are BpfPrograms, not map 'outer' (array_of_maps)")
    expect(notProgram.hint).toMatch(/a prog_array slot takes a loaded program/)
    expect(thrown(() => jumps.set(0, 3 as never)).origin).toBe('argument')
    expect(thrown(() => jumps.set(-1, obj.program('land'))).origin).toBe('argument')
    expect(jumps.get(0)).toBeUndefined()
    obj.close()
    expect(bpfFds()).toEqual(before)
    void Btf
  })
})
