// Carrying maps over: pinPath before load (pin, or reuse the map pinned there), reuse() of another
// object's map, and differences() between two maps.
import * as fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { BpfMap, BpfObject } from 'bpfkit'
import { fixture, thrown } from './helpers'

const dir = `/sys/fs/bpf/bpfkit-map-pins-${process.pid}`

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

async function loaded(setup?: (obj: BpfObject) => void): Promise<BpfObject> {
  const obj = BpfObject.open(fixture('metrics.bpf.o'))
  setup?.(obj)
  await obj.load()
  return obj
}

describe('map pins and reuse', () => {
  it('pinPath before load pins the new map, and the next object reuses it with its entries', async () => {
    fs.mkdirSync(dir)
    const first = await loaded((obj) => (obj.map('latency').pinPath = `${dir}/latency`))
    expect(first.map('latency').pinPath).toBe(`${dir}/latency`)
    first.map('latency').set({ op: 1, slot: 2 }, 42)
    const id = first.map('latency').id
    first.close()
    expect(fs.existsSync(`${dir}/latency`)).toBe(true)

    const second = await loaded((obj) => (obj.map('latency').pinPath = `${dir}/latency`))
    expect(second.map('latency').id).toBe(id)
    expect(second.map('latency').get({ op: 1, slot: 2 })).toBe(42n)
    second.close()
  })

  it('differences() names what a program could tell apart, and a mismatching pin fails load', async () => {
    const obj = await loaded()
    expect(obj.map('latency').differences(obj.map('latency'))).toEqual([])
    expect(obj.map('latency').differences(obj.map('flows'))).toEqual([
      'key size 28, not 8', 'value size 16, not 8', 'maxEntries 64, not 256',
      'key layout struct flow_key struct(28){src@0 struct(8){addr@0 u32; port@32 u16}; @64 union(4){cpu@0 u32}; proto@96 u8; comm@104 s8[8]; dir@192 u32}, not struct latency_key struct(8){op@0 u32; slot@32 u32}',
      'value layout struct counts struct(16){packets@0 u64; bytes@64 u64}, not __u64 u64',
    ])
    fs.mkdirSync(dir)
    obj.map('flows').pin(`${dir}/latency`)
    const pinned = BpfMap.openPinned(`${dir}/latency`)
    const other = BpfObject.open(fixture('metrics.bpf.o'))
    expect(other.map('latency').differences(pinned)).toHaveLength(5)
    other.map('latency').pinPath = `${dir}/latency`
    await expect(other.load()).rejects.toMatchObject({ code: 'EINVAL' })
    other.close()
    pinned.close()
    obj.close()
  })

  it('reuse() shares a loaded map with a new object; a different map is refused', async () => {
    const first = await loaded()
    first.map('per_cpu').set(7, 3)
    const second = BpfObject.open(fixture('metrics.bpf.o'))
    second.map('per_cpu').reuse(first.map('per_cpu'))
    expect(thrown(() => second.map('latency').reuse(first.map('flows'))).message).toMatch(/^map\.reuse: map 'flows' cannot stand for 'latency': key size 28, not 8; value size 16, not 8; /)
    await second.load()
    expect(second.map('per_cpu').id).toBe(first.map('per_cpu').id)
    first.close()
    expect(second.map('per_cpu').get(7)![0]).toBe(3n)
    second.close()
  })

  it('refuses a pinPath or reuse after load, and wrong arguments', async () => {
    const obj = await loaded()
    expect(thrown(() => (obj.map('latency').pinPath = '/sys/fs/bpf/x')).code).toBe('EBADSTATE')
    expect(thrown(() => obj.map('latency').reuse(obj.map('latency'))).code).toBe('EBADSTATE')
    expect(thrown(() => (obj.map('latency').pinPath = 42 as never)).code).toBe('EINVAL')
    expect(thrown(() => obj.map('latency').reuse({} as never)).code).toBe('EINVAL')
    obj.close()
  })
})
