// Globals that are structs and arrays read as live views: `bss.s.origin.x = 1` writes through.
import { describe, expect, it } from 'vitest'
import { BpfObject } from 'bpfkit'
import { fixture, thrown } from './helpers'

describe('nested globals', () => {
  it('writes to fields of nested structs, array elements, bitfields and anonymous union members reach the program', async () => {
    const obj = BpfObject.open(fixture('nested-globals.bpf.o'))
    // Before load: into the initial image.
    obj.bss.s.origin.x = 1
    obj.rodata.preset.sides = 6
    expect(obj.rodata.preset).toEqual(expect.objectContaining({ sides: 6, name: 'square' }))
    await obj.load()
    const s = obj.bss.s
    expect(s.origin).toEqual({ x: 1, y: 0 })
    s.origin.y = 2
    s.corners[1].y = 20
    s.sides = 300
    s.closed = 1
    s.color = 5
    s.name = 'tri'
    s.weights[2] = 7
    s.id = 9
    obj.program('total').testRun()
    expect(obj.bss.sum).toBe(BigInt(1 + 2 + 20 + 300 + 1 + 5 + 7 + 9))
    expect(obj.bss.seen_name).toBe('tri')
    expect(obj.bss.seen_sides).toBe(6)
    // A read is a copy of the memory then, which the writes through it keep up to date; a whole
    // assignment still works.
    expect(s.corners).toEqual([{ x: 0, y: 0 }, { x: 0, y: 20 }])
    expect([...s.weights]).toEqual([0, 0, 7])
    expect([...obj.bss.s.id_bytes]).toEqual([9, 0, 0, 0])
    expect(obj.bss.s.id_bytes).toBeInstanceOf(Uint8Array)
    expect({ closed: s.closed, color: s.color }).toEqual({ closed: 1, color: 5 })
    expect(JSON.parse(JSON.stringify(s.origin))).toEqual({ x: 1, y: 2 })
    s.weights.fill(3)
    obj.bss.s.corners = [{ x: 1, y: 1 }]
    obj.program('total').testRun()
    expect(obj.bss.sum).toBe(BigInt(1 + 2 + 0 + 300 + 1 + 5 + 3 + 9))
    obj.close()
    // The copy stays readable; writes need the object.
    expect(s.origin).toEqual({ x: 1, y: 2 })
    expect(thrown(() => (s.origin.x = 5)).code).toBe('ECLOSED')
  })

  it('refuses unknown fields, elements past the end and read-only sections after load', async () => {
    await using obj = BpfObject.open(fixture('nested-globals.bpf.o'))
    await obj.load()
    const unknown = thrown(() => (obj.bss.s.origin.z = 1))
    expect(unknown).toMatchObject({ code: 'ENOENT', origin: 'argument' })
    expect(unknown.message).toContain('.bss.s.origin: no field \'z\' (fields: x, y)')
    expect(thrown(() => (obj.bss.s.weights[3] = 1))).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    expect(thrown(() => (obj.bss.s.origin.x = 'a'))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => (obj.rodata.preset.sides = 1))).toMatchObject({ code: 'EROFS', origin: 'state' })
    expect(obj.bss.s.origin).toEqual({ x: 0, y: 0 })
    // A bitfield's error names the field once.
    expect(thrown(() => (obj.bss.s.color = 8)).message).toMatch(/^\.bss\.s\.color: 8 does not fit __u8:3/)
  })

  it('array methods: reading ones write nothing, changing ones write all or nothing, resizing ones refuse', async () => {
    await using obj = BpfObject.open(fixture('nested-globals.bpf.o'))
    await obj.load()
    // Reading a read-only section's array after load writes nothing (it was refused with EROFS).
    expect([...obj.rodata.preset.corners]).toEqual([{ x: 0, y: 0 }, { x: 0, y: 0 }])
    expect(obj.rodata.preset.weights.join()).toBe('0,0,0')
    expect(obj.rodata.preset.corners.map((p: { x: number }) => p.x)).toEqual([0, 0])
    // A read of a stale copy leaves what the program wrote since.
    const weights = obj.bss.s.weights
    obj.bss.s.weights[1] = 4
    expect(weights.indexOf(4)).toBe(-1)
    expect([...obj.bss.s.weights]).toEqual([0, 4, 0])
    // Elements reached through a reading method are views that write through.
    obj.bss.s.corners.forEach((p: { y: number }, i: number) => (p.y = i + 10))
    expect(obj.bss.s.corners).toEqual([{ x: 0, y: 10 }, { x: 0, y: 11 }])
    // Changing methods write the whole array; a refused one changes neither the section nor the copy.
    const s = obj.bss.s
    expect(s.weights.fill(2, 1)).toBe(s.weights)
    expect(s.weights.reverse()).toBe(s.weights)
    expect([...obj.bss.s.weights]).toEqual([2, 2, 0])
    expect([...s.weights]).toEqual([2, 2, 0])
    expect(thrown(() => s.weights.set([1, 2, 3, 4]))).toMatchObject({ code: 'EINVAL', message: expect.stringContaining('.bss.s.weights.set()') })
    expect(thrown(() => s.corners.sort(() => { throw new Error('no') }))).toMatchObject({ code: 'EINVAL' })
    for (const resize of [() => s.corners.push({ x: 1, y: 1 }), () => s.corners.pop(), () => s.corners.splice(0, 1)]) {
      expect(thrown(resize)).toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/a C array of 2 elements, whose length is fixed/) })
    }
    expect(s.corners).toHaveLength(2)
    expect([...s.weights]).toEqual([2, 2, 0])
    // A typed array read from a global writes back as read.
    obj.bss.s.weights = obj.bss.s.weights
    obj.bss.s.id_bytes = obj.bss.s.id_bytes
    expect([...obj.bss.s.weights]).toEqual([2, 2, 0])
    obj.close()
    expect(thrown(() => s.weights.fill(9)).code).toBe('ECLOSED')
    expect([...s.weights]).toEqual([2, 2, 0])
  })
})
