// BTF and codecs: the kernel (a BPF program writing and checking every kind of C type) is the oracle,
// and bpftool's BTF-formatted dump is the second opinion.
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Btf, BpfObject, type BtfType } from 'bpfkit'
import { fixture, thrown } from './helpers'

/** What `fill` in types.bpf.c writes, as bpfkit decodes it. */
const EXPECTED = {
  u8v: 0xfe,
  u16v: 0xfedc,
  u32v: 0xfedcba98,
  u64v: 0xfedcba9876543210n,
  s8v: -2,
  s16v: -300,
  s32v: -70000,
  s64v: -5000000000n,
  flag: true,
  name: 'hello',
  bytes: new Uint8Array([1, 0, 0, 0, 0, 0xff]),
  chain: 65535,
  cv: 77,
  nested: { a: 513, b: -1 },
  items: [{ a: 1, b: 0 }, { a: 0, b: 2 }, { a: 3, b: -4 }],
  names: ['ab', 'vwxyz'],
  matrix: [new Uint32Array([0, 10, 0]), new Uint32Array([0, 0, 0xffffffff])],
  u: { word: 0x04030201, octets: new Uint8Array([1, 2, 3, 4]) },
  lo: 0x1111,
  hi: 0x2222,
  whole: 0xfffffffen,
  half: -2,
  color: -3,
  wide: 0xfedcba9876543210n,
  bits: { x: 5, y: 9, cross: 100, mid: 0xabcde, neg: -7, big: 0xfedcba9876n, tail: 1 },
  packed: { a: 1, b: 0x12345678, c: 0xabcd },
  aligned: { a: 9, b: 0x1122334455667788n },
  odd: Object.defineProperty({ constructor: 1, delete: 3 }, '__proto__', { value: 2, enumerable: true, writable: true }),
  ptr: 0xffff888012345678n,
  u128: 0x0123456789abcdeffedcba9876543210n,
  tail: -1n,
}

const key = (n: number): Buffer => Buffer.from(new Uint32Array([n]).buffer)

describe('BTF and codecs', () => {
  let obj: BpfObject
  let btf: Btf
  let valueType: number

  beforeAll(async () => {
    obj = BpfObject.open(fixture('types.bpf.o'))
    await obj.load()
    btf = obj.btf as Btf
    valueType = (obj.map('values').valueType as BtfType).id
    expect(obj.program('fill').testRun().retval).toBe(0)
  })
  afterAll(() => obj.close())

  it('exports the type table: kinds, members, bitfields, enums, enum64, typedefs, datasecs', () => {
    const all = btf.find('all', 'struct')
    expect(all?.kind).toBe('struct')
    const bits = btf.find('bits', 'struct')
    if (bits?.kind !== 'struct') throw new Error('no struct bits')
    expect(bits.members.map((m) => [m.name, m.bitOffset, m.bitSize])).toEqual([
      ['x', 0, 3], ['y', 3, 4], ['cross', 7, 7], ['mid', 32, 20], ['neg', 52, 5], ['big', 64, 40], ['tail', 104, 1],
    ])
    const color = btf.find('color', 'enum')
    expect(color).toMatchObject({ kind: 'enum', signed: true, values: [{ name: 'RED', value: 1 }, { name: 'GREEN', value: 2 }, { name: 'NEGATIVE', value: -3 }] })
    const wide = btf.find('wide', 'enum64')
    expect(wide).toMatchObject({ kind: 'enum64', size: 8, values: [{ name: 'WIDE_SMALL', value: 1n }, { name: 'WIDE_BIG', value: 0xfedcba9876543210n }] })
    expect(btf.enumName((color as BtfType).id, -3)).toBe('NEGATIVE')
    const chain = btf.find('chain_u16', 'typedef')
    expect(btf.typeName((chain as BtfType).id)).toBe('chain_u16')
    // __u32 matrix[2][3]: the outer dimension first, as C writes it.
    if (all?.kind !== 'struct') throw new Error('no struct all')
    const matrix = all.members.find((m) => m.name === 'matrix')
    expect(btf.typeName(matrix!.type)).toBe('__u32[2][3]')
    expect(btf.resolve((chain as BtfType).id)).toMatchObject({ kind: 'int', name: 'unsigned short', size: 2 })
    expect(btf.find('.maps', 'datasec')).toMatchObject({ kind: 'datasec' })
    expect(btf.sizeOf(valueType)).toBe(obj.map('values').valueSize)
    expect(btf.find('fill', 'func')).toMatchObject({ kind: 'func', linkage: 'global' })
  })

  it('decodes what the BPF program wrote, field by field', () => {
    expect(obj.map('values').get(0)).toEqual(EXPECTED)
  })

  it('encodes to the same bytes the compiler laid out', () => {
    const kernelBytes = obj.map('values').raw.lookup(key(0)) as Buffer
    expect(btf.codec(valueType).encode(EXPECTED).equals(kernelBytes)).toBe(true)
  })

  it('writes values the BPF program reads back field by field', () => {
    const values = obj.map('values')
    values.set(1, EXPECTED)
    expect(obj.program('check').testRun().retval).toBe(0)
    // A value differing in one bitfield is caught by the program, so the check can fail.
    values.set(1, { ...EXPECTED, bits: { ...EXPECTED.bits, neg: -6 } })
    expect(obj.program('check').testRun().retval).toBe(24)
    values.set(1, { ...EXPECTED, odd: { constructor: 1, delete: 3 } })
    expect(obj.program('check').testRun().retval).toBe(28)
  })

  it('reads and writes floats as the compiler stores them', () => {
    const reals = obj.map('reals')
    expect(reals.get(0)).toEqual({ f: 1.5, d: -2.25 })
    const bytes = reals.raw.lookup(key(0)) as Buffer
    expect(btf.codec((reals.valueType as BtfType).id).encode({ f: 1.5, d: -2.25 }).equals(bytes)).toBe(true)
  })

  it('writes back decoded unions whose members cover different bytes, and bool bitfields', () => {
    const quirks = obj.map('quirks')
    // padded: w = 0x00010203, s.a = 3, a padding byte (2), s.b = 1; named: "ab", NUL, then junk; on, rest = 5.
    const bytes = Buffer.from([3, 2, 1, 0, 0, 0, 0, 0, 0x61, 0x62, 0, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x0b, 0, 0, 0, 0, 0, 0, 0])
    quirks.raw.update(key(0), bytes.subarray(0, quirks.valueSize))
    const value = quirks.get(0)
    expect(value).toEqual({
      padded: { w: 0x00010203, s: { a: 3, b: 1 } },
      named: { x: 0x7a7a7a7a7a006261n, name: 'ab' },
      on: true,
      rest: 5,
    })
    quirks.set(0, value)
    expect(quirks.raw.lookup(key(0))).toEqual(bytes.subarray(0, quirks.valueSize))
    quirks.set(0, { on: true })
    expect(quirks.get(0)).toMatchObject({ on: true, rest: 0 })
    expect(thrown(() => quirks.set(0, { padded: { w: 1, s: { a: 2 } } })).message)
      .toContain("value.padded: union members 'w' and 's' disagree")
  })

  it('round-trips every member type on its own', () => {
    const all = btf.find('all', 'struct')
    if (all?.kind !== 'struct') throw new Error('no struct all')
    for (const member of all.members) {
      const codec = btf.codec(member.type)
      if (member.bitSize !== 0 || member.name === '') continue
      const value = (EXPECTED as Record<string, unknown>)[member.name]
      expect(codec.decode(codec.encode(value)), member.name).toEqual(value)
    }
  })

  it('reads and writes unions: every member decoded, one member (or agreeing ones) encoded', () => {
    const codec = btf.codec(valueType)
    const one = codec.decode(codec.encode({ u: { octets: [9, 8, 7, 6] } }))
    expect(one.u).toEqual({ word: 0x06070809, octets: new Uint8Array([9, 8, 7, 6]) })
    expect(codec.decode(codec.encode({ half: -1 }))).toMatchObject({ half: -1, whole: 0xffffffffn })
    const e = thrown(() => codec.encode({ u: { word: 1, octets: [2] } }))
    expect(e.message).toContain("value.u: union members 'word' and 'octets' disagree")
    expect(thrown(() => codec.encode({ whole: 1n, half: 2 })).message).toContain("'whole' and 'half' disagree")
  })

  it('zero-fills omitted fields and short arrays, as a C designated initializer', () => {
    const codec = btf.codec(valueType)
    const value = codec.decode(codec.encode({ u16v: 7, items: [{ a: 5 }], matrix: [[1]] }))
    expect(value.u16v).toBe(7)
    expect(value.u8v).toBe(0)
    expect(value.items).toEqual([{ a: 5, b: 0 }, { a: 0, b: 0 }, { a: 0, b: 0 }])
    expect(value.matrix).toEqual([new Uint32Array([1, 0, 0]), new Uint32Array(3)])
    expect(value.name).toBe('')
  })

  it('encodeInto zeroes the whole value in place: omitted fields and padding, nothing around it', () => {
    // A small type (zeroed in JS) and a large one (zeroed by Buffer.fill), each into bytes left dirty.
    const cases: Array<[number, object]> = [
      [btf.find('over_aligned', 'struct')!.id, { b: 1n }],
      [valueType, { u16v: 7, items: [{ a: 5 }] }],
    ]
    for (const [id, partial] of cases) {
      const codec = btf.codec(id)
      const target = Buffer.alloc(codec.size + 16, 0xff)
      codec.encodeInto(partial, target, 8)
      expect(target.subarray(8, 8 + codec.size)).toEqual(codec.encode(partial))
      expect(target.subarray(0, 8)).toEqual(Buffer.alloc(8, 0xff))
      expect(target.subarray(8 + codec.size)).toEqual(Buffer.alloc(8, 0xff))
    }
  })

  it('names the field in every encoding error', () => {
    const codec = btf.codec(valueType)
    const cases: Array<[unknown, string]> = [
      [{ u16v: 70000 }, 'value.u16v: 70000 does not fit __u16'],
      [{ s8v: -129 }, 'value.s8v: -129 does not fit __s8'],
      [{ items: [{}, { a: 1.5 }] }, 'value.items[1].a: 1.5 does not fit __u16'],
      [{ matrix: [[0], [0, -1]] }, 'value.matrix[1][1]: -1 does not fit __u32'],
      [{ nope: 1 }, "value.nope: struct all has no field 'nope'"],
      [{ nested: { a: 1, c: 2 } }, "value.nested.c: struct inner has no field 'c'"],
      [{ name: 'x'.repeat(17) }, 'value.name: "xxxxxxxxxxxxxxxxx" is 17 bytes, more than char[16] holds (16)'],
      [{ names: ['abcdef'] }, 'value.names[0]: "abcdef" is 6 bytes, more than char[5] holds (5)'],
      [{ items: [{}, {}, {}, {}] }, 'value.items: 4 elements do not fit inner_alias_t[3]'],
      [{ bits: { x: 8 } }, 'value.bits.x: 8 does not fit __u8:3'],
      [{ bits: { neg: 16 } }, 'value.bits.neg: 16 does not fit __s32:5'],
      [{ u64v: 2n ** 64n }, 'value.u64v: 18446744073709551616n does not fit __u64'],
      [{ u64v: 2 ** 60 }, 'use a bigint beyond 2^53'],
      [{ flag: 'yes' }, 'value.flag: expected a boolean, got "yes"'],
      [{ nested: 5 }, 'value.nested: expected an object (struct inner), got 5'],
      [{ u32v: '5' }, 'value.u32v: expected a number (__u32), got "5"'],
      [{ color: 2 ** 31 }, 'value.color: 2147483648 does not fit enum color'],
      [{ ptr: -1 }, 'value.ptr: -1 does not fit void *'],
    ]
    for (const [value, message] of cases) {
      const e = thrown(() => codec.encode(value))
      expect(e.code).toBe('EINVAL')
      expect(e.message).toContain(message)
    }
  })

  it('keeps reserved JavaScript names as own data properties', () => {
    const odd = obj.map('values').get(0).odd
    expect(Object.getPrototypeOf(odd)).toBe(Object.prototype)
    expect(Object.keys(odd)).toEqual(['constructor', '__proto__', 'delete'])
    expect(Object.getOwnPropertyDescriptor(odd, '__proto__')?.value).toBe(2)
  })

  it('appears in bpftool map dump identically, and reads back what bpftool map update wrote', () => {
    const values = obj.map('values')
    values.set(1, EXPECTED)
    // bpftool prints numbers past 2^53 as JSON numbers: keep their digits.
    const text = execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(values.id)]).toString()
    const dump = JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})/g, '$1"$2"')) as Array<{ formatted: { key: number; value: unknown } }>
    const entry = dump.find((e) => e.formatted.key === 1)
    sameAsBpftool(btf, valueType, values.get(1), entry?.formatted.value, 'value')

    // Bytes the kernel wrote (not our encoder), written by bpftool into entry 1, read by bpfkit.
    values.set(1, {})
    const bytes = [...(values.raw.lookup(key(0)) as Buffer)].map((b) => b.toString(16).padStart(2, '0'))
    execFileSync('bpftool', ['map', 'update', 'id', String(values.id), 'key', 'hex', '01', '00', '00', '00', 'value', 'hex', ...bytes])
    expect(values.get(1)).toEqual(EXPECTED)
  })

  it('reads the running kernel BTF and files', () => {
    const vmlinux = Btf.vmlinux()
    const task = vmlinux.find('task_struct', 'struct')
    expect(task?.kind).toBe('struct')
    expect(vmlinux.count).toBeGreaterThan(10_000)
    const parsed = Btf.parse('/sys/kernel/btf/vmlinux')
    expect(parsed.find('task_struct', 'struct')).toEqual(task)
    const fromObject = Btf.parse(fixture('types.bpf.o'))
    expect(fromObject.find('all', 'struct')).toEqual(btf.find('all', 'struct'))
    expect(thrown(() => Btf.parse('/nonexistent.btf')).code).toBe('ENOENT')
    vmlinux.close()
    parsed.close()
    expect(thrown(() => vmlinux.type(vmlinux.count - 1)).code).toBe('ECLOSED')
  })

  it('keeps the object BTF readable after close', async () => {
    const other = BpfObject.open(fixture('types.bpf.o'))
    const types = other.btf as Btf
    other.close()
    expect(types.find('inner', 'struct')).toMatchObject({ size: 4 })
    expect(types.codec((types.find('inner', 'struct') as BtfType).id).decode(Buffer.from([1, 0, 0xff, 0]))).toEqual({ a: 1, b: -1 })
  })
})

/** Compares a bpfkit value with bpftool's BTF-formatted JSON for the same bytes. */
function sameAsBpftool(btf: Btf, id: number, ours: unknown, theirs: unknown, path: string, bitSize = 0): void {
  const type = btf.resolve(id)
  switch (type.kind) {
    case 'int':
      if (bitSize !== 0) expect(BigInt(theirs as string), path).toBe(BigInt.asUintN(bitSize, BigInt(ours as number)))
      else if (type.bool) expect(theirs, path).toBe(ours)
      else expect(BigInt(theirs as string), path).toBe(BigInt(ours as number))
      return
    case 'ptr':
      expect(BigInt(theirs as string), path).toBe(ours)
      return
    case 'enum':
    case 'enum64':
      expect(theirs, path).toBe(btf.enumName(id, ours as number) ?? ours)
      return
    case 'array': {
      if (typeof ours === 'string') {
        // bpftool prints a char array as a string only when it is NUL-terminated.
        const text = typeof theirs === 'string' ? theirs : Buffer.from(theirs as number[]).toString()
        expect(text, path).toBe(ours)
        return
      }
      const list = Array.from(ours as ArrayLike<unknown>)
      expect((theirs as unknown[]).length, path).toBe(list.length)
      list.forEach((v, i) => sameAsBpftool(btf, type.type, v, (theirs as unknown[])[i], `${path}[${i}]`))
      return
    }
    case 'struct':
    case 'union':
      for (const m of type.members) {
        const they = theirs as Record<string, unknown>
        if (m.name === '') {
          // bpftool shows anonymous members under "" (JSON keeps the last one).
          const inner = they[''] as Record<string, unknown>
          for (const am of btf.members(m.type)) {
            if (!(am.name in inner)) continue
            sameAsBpftool(btf, am.type, (ours as Record<string, unknown>)[am.name], inner[am.name], `${path}.${am.name}`, am.bitSize)
          }
          continue
        }
        sameAsBpftool(btf, m.type, (ours as Record<string, unknown>)[m.name], they[m.name], `${path}.${m.name}`, m.bitSize)
      }
      return
    default:
      throw new Error(`${path}: unexpected ${type.kind}`)
  }
}
