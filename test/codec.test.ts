// Codecs over hand-made BTF: the older BTF encodings (kflag 0) and malformed or hostile type tables.
import { describe, expect, it } from 'vitest'
import { Btf, type BtfType } from 'bpfkit'
import { thrown } from './helpers'

type Spec = BtfType extends infer T ? (T extends BtfType ? Omit<T, 'id' | 'name'> & { name?: string } : never) : never

/** A BTF made of these types (ids from 1), as the addon would export them. */
function btfOf(...types: Spec[]): Btf {
  const all = [{ id: 0, kind: 'void', name: '' }, ...types.map((t, i) => ({ name: '', ...t, id: i + 1 }))] as BtfType[]
  // A native handle's type table is all a copy reads.
  const handle = { count: all.length, types: (first: number, end: number) => all.slice(first, end) }
  return Btf.copyOf(handle as unknown as Parameters<typeof Btf.copyOf>[0])
}

const int = (name: string, size: number, extra: Partial<Record<'bits' | 'bitOffset', number>> & { signed?: boolean; bool?: boolean } = {}): Spec => ({
  kind: 'int', name, size, bits: extra.bits ?? size * 8, bitOffset: extra.bitOffset ?? 0, signed: extra.signed ?? false, char: false, bool: extra.bool ?? false,
})

describe('codecs over hand-made BTF', () => {
  it('reads and writes old-style bitfields (an int of fewer bits than its size, kflag 0)', () => {
    const btf = btfOf(int('u3', 4, { bits: 3 }), {
      kind: 'struct', name: 's', size: 4,
      members: [{ name: 'a', type: 1, bitOffset: 0, bitSize: 0 }, { name: 'b', type: 1, bitOffset: 3, bitSize: 0 }, { name: 'c', type: 1, bitOffset: 6, bitSize: 0 }],
    })
    const codec = btf.codec(2)
    expect(codec.decode(Buffer.from([0xd1, 0, 0, 0]))).toEqual({ a: 1, b: 2, c: 3 })
    expect(codec.encode({ a: 1, b: 2, c: 3 })).toEqual(Buffer.from([0xd1, 0, 0, 0]))
    expect(thrown(() => codec.encode({ b: 8 })).message).toContain('value.b: 8 does not fit u3:3')
  })

  it('takes negative values for enums not marked signed (clang < 15 marks none)', () => {
    const btf = btfOf({ kind: 'enum', name: 'e', size: 4, signed: false, values: [{ name: 'NEG', value: 0xfffffffd }] })
    const codec = btf.codec(1)
    expect(codec.encode(-3)).toEqual(codec.encode(0xfffffffd))
    expect(btf.enumName(1, codec.decode(codec.encode(-3)))).toBe('NEG')
  })

  it('decodes bool bitfields as booleans', () => {
    const btf = btfOf(int('_Bool', 1, { bool: true }), {
      kind: 'struct', name: 'b', size: 1,
      members: [{ name: 'on', type: 1, bitOffset: 0, bitSize: 1 }, { name: 'off', type: 1, bitOffset: 1, bitSize: 1 }],
    })
    expect(btf.codec(2).decode(Buffer.from([1]))).toEqual({ on: true, off: false })
    expect(btf.codec(2).encode({ on: true, off: true })).toEqual(Buffer.from([3]))
  })

  it('refuses a typedef cycle instead of hanging', () => {
    const btf = btfOf({ kind: 'typedef', name: 'a', type: 2 }, { kind: 'typedef', name: 'b', type: 1 })
    expect(thrown(() => btf.codec(1)).code).toBe('EFORMAT')
  })

  it('keeps hostile names out of the generated code', () => {
    const evil = '"]; globalThis.pwned = 1; //\u2028`${globalThis.pwned = 2}`'
    const btf = btfOf(int(evil, 4), {
      kind: 'struct', name: evil, size: 8,
      members: [{ name: evil, type: 1, bitOffset: 0, bitSize: 0 }, { name: '__proto__', type: 1, bitOffset: 32, bitSize: 5 }],
    })
    const codec = btf.codec(2)
    const value = codec.decode(codec.encode({ [evil]: 7, ['__proto__']: 3 } as Record<string, number>))
    expect(Object.getOwnPropertyDescriptor(value, evil)?.value).toBe(7)
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toBe(3)
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined()
  })
})
