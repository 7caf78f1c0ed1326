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

  it('writes back what a decode lost: padding, a bool byte other than 0 or 1, a NaN payload (where the value says the same)', () => {
    // struct { bool on; [pad 3]; float f; double d; }
    const btf = btfOf(int('_Bool', 1, { bool: true }), { kind: 'float', name: 'float', size: 4 }, { kind: 'float', name: 'double', size: 8 }, {
      kind: 'struct', name: 'lossy', size: 16,
      members: [{ name: 'on', type: 1, bitOffset: 0, bitSize: 0 }, { name: 'f', type: 2, bitOffset: 32, bitSize: 0 }, { name: 'd', type: 3, bitOffset: 64, bitSize: 0 }],
    })
    const codec = btf.codec(4)
    const bytes = Buffer.alloc(16)
    bytes.set([2, 0xaa, 0xbb, 0xcc], 0) // a bool of 2, then padding
    bytes.writeUInt32LE(0x7fa00001, 4) // a signalling NaN, which V8 would quiet
    bytes.writeBigUInt64LE(0xfff8000000000123n, 8) // a negative NaN with a payload
    const value = codec.decode(bytes) as { on: boolean; f: number; d: number }
    expect(value).toEqual({ on: true, f: NaN, d: NaN })
    expect(JSON.stringify(Object.keys(value))).toBe('["on","f","d"]')
    expect(codec.encode(value)).toEqual(bytes)
    // What changed is written as given; what did not keeps its bytes.
    expect([...codec.encode({ ...value, on: false }).subarray(0, 4)]).toEqual([0, 0, 0, 0]) // a copy keeps nothing
    value.on = false
    value.d = 1.5
    const changed = codec.encode(value)
    expect([...changed.subarray(0, 8)]).toEqual([0, 0xaa, 0xbb, 0xcc, 0x01, 0x00, 0xa0, 0x7f])
    expect(changed.readDoubleLE(8)).toBe(1.5)
    // A struct whose decode lost nothing keeps nothing.
    bytes.fill(0)
    expect(Object.getOwnPropertySymbols(codec.decode(bytes))).toEqual([])
  })

  it("keeps the bits a byte's bitfields leave unused: a value read and written back is byte-identical", () => {
    // struct { u8 a : 3; u8 b : 2; [3 bits]; u8 c : 4; [4 bits]; [pad 2] } (kflag bitfields)
    const btf = btfOf(int('u8', 1), {
      kind: 'struct', name: 'bits', size: 4,
      members: [{ name: 'a', type: 1, bitOffset: 0, bitSize: 3 }, { name: 'b', type: 1, bitOffset: 3, bitSize: 2 }, { name: 'c', type: 1, bitOffset: 8, bitSize: 4 }],
    })
    const codec = btf.codec(2)
    const bytes = Buffer.from([0xe0 | 0x0a, 0xa0 | 0x05, 0x55, 0xaa]) // unused bits set, a = 2, b = 1, c = 5
    const value = codec.decode(bytes) as { a: number; b: number; c: number }
    expect(value).toEqual({ a: 2, b: 1, c: 5 })
    expect(codec.encode(value)).toEqual(bytes)
    value.c = 15
    expect([...codec.encode(value)]).toEqual([0xea, 0xaf, 0x55, 0xaa])
    expect([...codec.encode({ a: 2, b: 1, c: 5 })]).toEqual([0x0a, 0x05, 0, 0]) // a copy keeps nothing
  })

  it('writes kept bytes back only into a struct of the same layout, and never over a member that shares them', () => {
    // struct d { u8 tag; [pad 3]; u32 n; } and struct c { u32 n; u8 tag; [pad 3]; }: the same fields, another layout.
    const btf = btfOf(int('u8', 1), int('u32', 4), {
      kind: 'struct', name: 'd', size: 8, members: [{ name: 'tag', type: 1, bitOffset: 0, bitSize: 0 }, { name: 'n', type: 2, bitOffset: 32, bitSize: 0 }],
    }, {
      kind: 'struct', name: 'c', size: 8, members: [{ name: 'n', type: 2, bitOffset: 0, bitSize: 0 }, { name: 'tag', type: 1, bitOffset: 32, bitSize: 0 }],
    }, int('_Bool', 1, { bool: true }), {
      kind: 'union', name: '', size: 1, members: [{ name: 'flag', type: 5, bitOffset: 0, bitSize: 0 }, { name: 'raw', type: 1, bitOffset: 0, bitSize: 0 }],
    }, {
      kind: 'struct', name: 'u', size: 2, members: [{ name: '', type: 6, bitOffset: 0, bitSize: 0 }, { name: 'y', type: 1, bitOffset: 8, bitSize: 0 }],
    })
    const d = btf.codec(3).decode(Buffer.from([7, 0xaa, 0xbb, 0xcc, 0x44, 0x33, 0x22, 0x11]))
    expect(btf.codec(3).encode(d)).toEqual(Buffer.from([7, 0xaa, 0xbb, 0xcc, 0x44, 0x33, 0x22, 0x11]))
    expect(btf.codec(4).encode(d)).toEqual(Buffer.from([0x44, 0x33, 0x22, 0x11, 7, 0, 0, 0]))
    // A bool in an anonymous union shares its byte with `raw`: what the value says of `raw` is written.
    const u = btf.codec(7).decode(Buffer.from([2, 9])) as { flag?: boolean; raw: number; y: number }
    expect(u).toEqual({ flag: true, raw: 2, y: 9 })
    delete u.flag
    u.raw = 3
    expect(btf.codec(7).encode(u)).toEqual(Buffer.from([3, 9]))
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

const char = (): Spec => ({ kind: 'int', name: 'char', size: 1, bits: 8, bitOffset: 0, signed: true, char: true, bool: false })

/** A detached Uint8Array: its buffer was transferred away. */
function detached(size: number): Uint8Array {
  const bytes = new Uint8Array(size)
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
  return bytes
}

describe('char[N] strings round-trip any bytes', () => {
  // char[16] (id 3) in a struct (id 4) after a u32.
  const btf = btfOf(char(), int('u32', 4), { kind: 'array', type: 1, indexType: 2, length: 16 }, {
    kind: 'struct', name: 's', size: 20,
    members: [{ name: 'n', type: 2, bitOffset: 0, bitSize: 0 }, { name: 'text', type: 3, bitOffset: 32, bitSize: 0 }],
  })
  const codec = btf.codec(4)

  it('decodes UTF-8 as text and each byte of an ill-formed sequence as U+DC80–U+DCFF', () => {
    const cases: Array<[number[], string]> = [
      [[0x68, 0x69], 'hi'],
      [[0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], 'é€😀'],
      [[0xff], '\udcff'],
      [[0x41, 0xc3], 'A\udcc3'], // cut short by the end
      [[0xc3, 0x41], '\udcc3A'], // cut short by ASCII
      [[0xc0, 0xaf], '\udcc0\udcaf'], // overlong '/'
      [[0xed, 0xa0, 0x80], '\udced\udca0\udc80'], // an encoded surrogate
      [[0xf4, 0x90, 0x80, 0x80], '\udcf4\udc90\udc80\udc80'], // above U+10FFFF
      [[0x80, 0xbf], '\udc80\udcbf'], // lone continuation bytes
    ]
    for (const [bytes, text] of cases) {
      const value = Buffer.alloc(20)
      value.set(bytes, 4)
      expect(codec.decode(value).text, Buffer.from(bytes).toString('hex')).toBe(text)
      expect(codec.encode({ text }), Buffer.from(bytes).toString('hex')).toEqual(value)
    }
  })

  it('writes back the bytes it read, for any bytes up to the first NUL (seeded random samples)', () => {
    let seed = 12345
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let sample = 0; sample < 2000; sample++) {
      const value = Buffer.alloc(20)
      const length = Math.floor(random() * 17)
      // Mostly high bytes, so that most samples hold ill-formed sequences.
      for (let i = 0; i < length; i++) value[4 + i] = random() < 0.3 ? 1 + Math.floor(random() * 127) : 128 + Math.floor(random() * 128)
      value.writeUInt32LE(sample, 0)
      expect(codec.encode(codec.decode(value))).toEqual(value)
    }
  })

  it('reads the same strings through its cache of repeated strings: repeats, slot collisions, and a field that stops caching and starts again', () => {
    const value = Buffer.alloc(20)
    const read = (text: string): string => {
      value.fill(0, 4)
      value.write(text, 4, 'latin1')
      return codec.decode(value).text as string
    }
    const names = ['bash', 'node', 'sshd', 'systemd-journal', 'x'.repeat(16)]
    // Repeats (served from the cache), then 5000 different strings (slots taken over, then no caching
    // at all), then the repeats again (caching again once the field rests no more).
    for (let i = 0; i < 4000; i++) expect(read(names[i % names.length] as string)).toBe(names[i % names.length])
    for (let i = 0; i < 5000; i++) expect(read(`p${i.toString(36)}`)).toBe(`p${i.toString(36)}`)
    for (let i = 0; i < 40000; i++) {
      const text = i % 7 === 0 ? `q${i}` : (names[i % names.length] as string)
      const got = read(text)
      if (got !== text) expect(got).toBe(text)
    }
  })

  it('encodes other strings as UTF-8 and refuses what does not fit', () => {
    expect(thrown(() => codec.encode({ text: 'a\ud800b' })).message).toContain('holds a lone surrogate, U+D800, which has no UTF-8 form')
    expect(thrown(() => codec.encode({ text: '\udc41' })).message).toContain('U+DC41')
    expect(codec.encode({ text: 'a\udce9' }).subarray(4, 7)).toEqual(Buffer.from([0x61, 0xe9, 0])) // a byte that is not UTF-8
    expect(thrown(() => codec.encode({ text: 'é'.repeat(9) })).message).toContain('is 18 bytes, more than char[16] holds (16)')
    expect(codec.encode({ text: 'x'.repeat(16) }).subarray(4)).toEqual(Buffer.alloc(16, 'x'))
  })
})

describe('codec and Btf arguments', () => {
  const btf = btfOf(int('u32', 4), { kind: 'enum', name: 'e', size: 4, signed: false, values: [{ name: 'A', value: 1 }] })
  const codec = btf.codec(1)
  const nullProto = Object.create(null) as never

  it('codec calls refuse anything but a Uint8Array and a non-negative integer offset, as BpfError EINVAL naming it', () => {
    const bad: Array<[() => unknown, string]> = [
      [() => codec.decode([1, 2, 3, 4] as unknown as Uint8Array), 'bytes must be a Buffer or Uint8Array, got an array of 4'],
      [() => codec.decode(new ArrayBuffer(4) as unknown as Uint8Array), 'bytes must be a Buffer or Uint8Array, got a ArrayBuffer'],
      [() => codec.decode(new Uint16Array(2) as unknown as Uint8Array), 'bytes must be a Buffer or Uint8Array'],
      [() => codec.decode(Symbol('x') as unknown as Uint8Array), 'got Symbol(x)'],
      [() => codec.decode(nullProto), 'got an object with a null prototype'],
      [() => codec.decode(Buffer.alloc(8), 1n as unknown as number), 'offset must be a non-negative integer, got 1n'],
      [() => codec.decode(Buffer.alloc(8), Symbol('o') as unknown as number), 'offset must be a non-negative integer, got Symbol(o)'],
      [() => codec.decode(Buffer.alloc(8), 1.5), 'offset must be a non-negative integer'],
      [() => codec.decode(Buffer.alloc(8), -1), 'offset must be a non-negative integer'],
      [() => codec.decode(detached(8)), 'does not fit 0 bytes'],
      [() => codec.encodeInto(1, detached(8)), 'does not fit 0 bytes'],
      [() => codec.encodeInto(1, Buffer.alloc(8), 2n as unknown as number), 'offset must be a non-negative integer'],
      [() => codec.decodeMany(Buffer.alloc(8), 0n as unknown as number, 4, 2), 'offset must be a non-negative integer'],
      [() => codec.decodeMany(Buffer.alloc(8), 0, 4n as unknown as number, 2), 'the stride must be an integer'],
      [() => codec.encodeMany(nullProto, Buffer.alloc(8), 0, 4), 'values must be an array'],
    ]
    for (const [call, message] of bad) {
      const error = thrown(call)
      expect(error.code, message).toBe('EINVAL')
      expect(error.message).toContain(message)
    }
  })

  it('Btf lookups refuse Symbols, objects without a prototype and detached buffers as BpfError EINVAL', () => {
    const calls: Array<[() => unknown, string]> = [
      [() => btf.type(Symbol('id') as unknown as number), 'no type with id Symbol(id)'],
      [() => btf.type(nullProto), 'no type with id an object with a null prototype'],
      [() => btf.type(detached(4) as unknown as number), 'no type with id a Uint8Array'],
      [() => btf.resolve(Symbol('id') as unknown as number), 'no type with id Symbol(id)'],
      [() => btf.sizeOf(nullProto), 'no type with id'],
      [() => btf.typeName(Symbol('id') as unknown as number), 'no type with id'],
      [() => btf.find(Symbol('n') as unknown as string), 'name must be a string, got Symbol(n)'],
      [() => btf.find(nullProto), 'name must be a string, got an object with a null prototype'],
      [() => btf.find('e', Symbol('k') as never), 'unknown kind Symbol(k)'],
      [() => btf.find('e', nullProto as never), 'unknown kind an object with a null prototype'],
      [() => btf.find('e', 'toString' as never), "unknown kind \"toString\""],
      [() => btf.enumName(2, Symbol('v') as unknown as number), 'value must be a number or bigint, got Symbol(v)'],
      [() => btf.enumName(2, nullProto), 'value must be a number or bigint'],
      [() => btf.enumName(Symbol('id') as unknown as number, 1), 'no type with id'],
      [() => btf.codec(Symbol('id') as unknown as number), 'no type with id Symbol(id)'],
      [() => btf.codec(nullProto), 'no type with id'],
      [() => btf.codec(detached(4) as unknown as number), 'no type with id'],
      [() => btf.codec(1, { int64: Symbol('m') as never }), "int64 must be 'bigint' or 'number', got Symbol(m)"],
      [() => btf.codec(1, 'number' as never), 'options must be an object, got "number"'],
      [() => btf.declTags(1, Symbol('c') as unknown as number), 'componentIndex must be an integer'],
    ]
    for (const [call, message] of calls) {
      const error = thrown(call)
      expect(error.code, message).toBe('EINVAL')
      expect(error.message).toContain(message)
    }
    expect(btf.enumName(2, 1)).toBe('A')
  })
})

describe("int64: 'number'", () => {
  const btf = btfOf(int('u64', 8), int('s64', 8, { signed: true }), {
    kind: 'struct', name: 'pair', size: 16,
    members: [{ name: 'u', type: 1, bitOffset: 0, bitSize: 0 }, { name: 's', type: 2, bitOffset: 64, bitSize: 0 }],
  }, { kind: 'array', type: 1, indexType: 1, length: 2 })

  it('decodes 64-bit integers as bigints by default, small, 32-bit and wide, whichever way they are read', () => {
    const bigints = btf.codec(3)
    const cases: Array<[bigint, bigint]> = [[0n, 0n], [255n, -1n], [256n, 255n], [2n ** 31n, 256n], [2n ** 32n - 1n, 2n ** 32n - 1n],
      [2n ** 32n, -(2n ** 31n)], [2n ** 53n + 1n, 2n ** 63n - 1n], [2n ** 64n - 1n, -(2n ** 63n)]]
    for (const [u, s] of cases) {
      const bytes = Buffer.alloc(16)
      bytes.writeBigUInt64LE(u, 0)
      bytes.writeBigInt64LE(s, 8)
      expect(bigints.decode(bytes)).toEqual({ u, s })
      // The view class that batch.at(i) places over each record (internal to the codec).
      type View = { new (): object; at(v: object, dv: DataView, b: Buffer, o: number): { u: bigint; s: bigint } }
      const view = (bigints as unknown as { view: View }).view
      const at = view.at(new view(), new DataView(bytes.buffer), bytes, bytes.byteOffset)
      expect([at.u, at.s]).toEqual([u, s])
      expect(bigints.encode({ u, s })).toEqual(bytes)
    }
  })

  it('decodes 64-bit integers as numbers, exact below 2^53, and writes back what fits', () => {
    const numbers = btf.codec(3, { int64: 'number' })
    const bigints = btf.codec(3)
    const value = bigints.encode({ u: 2n ** 53n - 1n, s: -(2n ** 40n) })
    expect(numbers.decode(value)).toEqual({ u: 2 ** 53 - 1, s: -(2 ** 40) })
    expect(numbers.encode(numbers.decode(value))).toEqual(value)
    expect(numbers.decode(bigints.encode({ u: 2n ** 64n - 1n })).u).toBe(2 ** 64)
    expect(thrown(() => numbers.encode({ u: 2 ** 64 })).message).toContain('use a bigint beyond 2^53')
    expect(btf.codec(4, { int64: 'number' }).decode(btf.codec(4).encode([5n, 7n]))).toEqual(new Float64Array([5, 7]))
    expect(bigints.decode(value)).toEqual({ u: 2n ** 53n - 1n, s: -(2n ** 40n) })
  })
})
