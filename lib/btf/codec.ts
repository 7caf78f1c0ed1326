// Codecs: from a BTF type, a compiled decoder (bytes → JS value) and encoder (JS value → bytes), and
// for structs and unions a view class whose getters read the fields in place.
//
// Each type is compiled once into JavaScript source (one function per struct, union and array) so that
// decoding is straight-line DataView reads building one object literal per struct: no interpretation
// and no allocation beyond the result. Encoders check every value and name the field that is wrong.
//
// char[N] is a C string: the bytes up to the first NUL. Valid UTF-8 decodes as text; a byte that is not
// part of a well-formed UTF-8 sequence decodes as the lone surrogate U+DC80–U+DCFF (Python's
// "surrogateescape"), which encoding turns back into that byte, so every string read writes back the
// same bytes.
import * as os from 'node:os'
import { BpfError, describe, invalidArgument, unreadable } from '../errors'
import type { Btf } from './btf'
import type { BtfType } from './types'

/**
 * What an encoder accepts for a value whose decoded shape is `T`: every field optional (omitted
 * fields are zero), 64-bit fields also as numbers, strings also as bytes, arrays as any array no
 * longer than in C.
 */
export type Init<T> = 0 extends 1 & T
  ? any
  : T extends bigint
    ? bigint | number
    : T extends string
      ? string | Uint8Array
      : T extends ArrayBufferView
        ? ArrayLike<number | bigint>
        : T extends ReadonlyArray<infer E>
          ? ReadonlyArray<Init<E>>
          : T extends object
            ? { [K in keyof T]?: Init<T[K]> }
            : T

/** How 64-bit integers decode: as bigints (exact; the default) or as numbers (exact below 2^53). */
export type Int64Mode = 'bigint' | 'number'

/**
 * How a `char[N]` field decodes: `'string'` (up to the first NUL, the default), `'bytes'` (all N
 * bytes as a Uint8Array) or `'strings'` (the NUL-separated strings it holds, as an argv buffer does:
 * `"ls\0-l\0\0"` → `['ls', '-l']`). Each writes back the bytes it was read from.
 */
export type CharsMode = 'string' | 'bytes' | 'strings'

/** `char[N]` fields to decode another way than as one string, by their path in the value: `{ args: 'strings', 'hdr.raw': 'bytes' }`. */
export type CharFields = Readonly<Record<string, CharsMode>>

/** Options of `btf.codec(id, options)`. */
export interface CodecOptions {
  /**
   * `'number'` decodes every integer wider than 32 bits (u64, s64, 64-bit enums and bitfields,
   * pointers, 128-bit integers) as a number: faster and easier to use, exact below 2^53 (timestamps,
   * counters), rounded above. Encoding takes numbers either way and refuses an unsafe one.
   */
  int64?: Int64Mode | undefined
  /**
   * `char[N]` fields that decode as bytes or as a list of strings instead of one string, by path
   * through struct and union members (`'args'`, `'hdr.argv'`; not through arrays).
   */
  chars?: CharFields | undefined
}

/**
 * A decoded type `T` with its 64-bit integers as numbers (what `int64: 'number'` gives): bigint →
 * number, BigInt64Array/BigUint64Array → Float64Array, through arrays and objects.
 */
export type Int64AsNumber<T> = 0 extends 1 & T
  ? any
  : T extends bigint
    ? number
    : T extends BigInt64Array | BigUint64Array
      ? Float64Array
      : T extends ArrayBufferView | string | number | boolean
        ? T
        : T extends ReadonlyArray<infer E>
          ? Array<Int64AsNumber<E>>
          : T extends object
            ? { [K in keyof T]: Int64AsNumber<T[K]> }
            : T

/** `T` as a value decodes under int64 mode `M`: a skeleton's types are generic over it. */
export type Int64<T, M extends Int64Mode> = M extends 'number' ? Int64AsNumber<T> : T

/** Decodes and encodes values of one BTF type. */
export interface Codec<T = any> {
  /** The BTF type id the codec was compiled from. */
  readonly typeId: number
  /** Bytes of one value (C's sizeof). */
  readonly size: number
  /** The value stored at `offset` of `bytes`. */
  decode(bytes: Uint8Array, offset?: number): T
  /**
   * Writes `value` at `offset` of `target`: zeroes the type's bytes, then writes what `value` gives
   * (omitted fields stay zero, as in a C designated initializer). Throws a BpfError naming the field
   * (`value.u.b[1]: 70000 does not fit u16`); `target` may then be partly written.
   */
  encodeInto(value: T, target: Uint8Array, offset?: number, path?: string): void
  /** A new Buffer holding `value`. */
  encode(value: T, path?: string): Buffer
  /**
   * Decodes `count` values laid out every `stride` bytes from `offset` (a batch of map entries): one
   * call, one bounds check.
   */
  decodeMany(bytes: Uint8Array, offset: number, stride: number, count: number): T[]
  /**
   * Encodes `values[i]` at `offset + i * stride` (zeroing the whole range first). An error names the
   * element as `name(i)` (default `value[i]`) followed by the field path.
   */
  encodeMany(values: ArrayLike<T>, target: Uint8Array, offset: number, stride: number, name?: (index: number) => string): void
}

const LITTLE_ENDIAN = os.endianness() === 'LE'

// The DataView and Buffer over each ArrayBuffer the codecs see, made once: decoding and encoding
// into reused buffers (a map's scratch key and value, a batch) allocate nothing.
interface Views {
  view: DataView
  buffer: Buffer
}
const views = new WeakMap<ArrayBufferLike, Views>()
let lastBytes: Uint8Array | undefined
let lastViews: Views

function viewsOf(bytes: Uint8Array): Views {
  // The same array as last time (a reader's batch, a map's scratch value): no .buffer lookup, which
  // is a call into C++.
  if (bytes === lastBytes) return lastViews
  const buffer = bytes.buffer
  let found = views.get(buffer)
  if (found === undefined) {
    found = viewsOfBuffer(buffer)
    views.set(buffer, found)
  }
  lastBytes = bytes
  lastViews = found
  return found
}

/** @internal A DataView and a Buffer over the whole of `buffer` (what compiled decoders read). */
export function viewsOfBuffer(buffer: ArrayBufferLike): Views {
  try {
    return { view: new DataView(buffer), buffer: Buffer.from(buffer) }
  } catch {
    // The only way a DataView over an ArrayBuffer fails.
    throw invalidArgument('codec', 'the buffer is detached (transferred)')
  }
}

/** The longest string a StringCache keeps. */
const CACHED_BYTES = 64
const CACHE_SLOTS = 256
/** A slot's Int32s: the string's length, its hash, then its bytes, a word per four (zero-padded). */
const SLOT_INTS = 2 + CACHED_BYTES / 4
/** Reads per look at a cache's hit rate, and reads a field with too few hits goes without looking. */
const CACHE_WINDOW = 1024
const CACHE_REST = 16384

/**
 * The last strings one char[N] field decoded, by their bytes: events and map entries repeat the
 * same few names (a comm, a path, a tag) far more often than not, and reusing a string costs a
 * compare where making one costs an allocation and a call into C++. A field whose strings rarely
 * repeat (under 1 in 8 of CACHE_WINDOW reads) stops looking for CACHE_REST reads, so that it pays
 * almost nothing.
 *
 * h.str inlines `find` into each generated decoder: it stays small, one typed array holds what it
 * compares, and the rest is out of line. Its fields are plain ones (the class is this module's
 * alone): a private field's every load checks the brand, which cost a third of a hit.
 */
class StringCache {
  readonly slots = new Int32Array(CACHE_SLOTS * SLOT_INTS)
  readonly strings: string[] = new Array<string>(CACHE_SLOTS).fill('')
  reads = 0
  hits = 0
  /** Reads left without looking. */
  rest = 0

  /** The string of the `length` bytes at `o` hashed to `hash`, when this cache holds it. */
  find(dv: DataView, b: Buffer, o: number, length: number, hash: number): string | undefined {
    if (++this.reads === CACHE_WINDOW) this.account()
    if (this.rest !== 0) return undefined
    const slot = (hash ^ (hash >>> 16)) & (CACHE_SLOTS - 1)
    const slots = this.slots
    let w = slot * SLOT_INTS
    if (slots[w] !== length || slots[w + 1] !== hash) return undefined
    w += 2
    let k = 0
    for (; k + 4 <= length; k += 4, w++) if (slots[w] !== dv.getInt32(o + k, true)) return undefined
    // The last bytes one by one: a whole word could reach past the field (or the buffer).
    for (; k < length; k++) if (b[o + k] !== (((slots[w] as number) >>> ((k & 3) * 8)) & 0xff)) return undefined
    this.hits++
    return this.strings[slot]
  }

  /** Keeps `string`, the bytes [o, end) hashed to `hash`, unless the cache is resting or they are too long. */
  add(b: Buffer, o: number, end: number, hash: number, string: string): void {
    const length = end - o
    if (this.rest !== 0 || length > CACHED_BYTES) return
    const slot = (hash ^ (hash >>> 16)) & (CACHE_SLOTS - 1)
    const at = slot * SLOT_INTS
    const bytes = new Uint8Array(this.slots.buffer, (at + 2) * 4, CACHED_BYTES)
    bytes.fill(0)
    bytes.set(b.subarray(o, end))
    this.slots[at] = length
    this.slots[at + 1] = hash
    this.strings[slot] = string
  }

  account(): void {
    if (this.rest !== 0) this.rest = Math.max(0, this.rest - CACHE_WINDOW)
    else if (this.hits * 8 < this.reads) this.rest = CACHE_REST
    this.reads = 0
    this.hits = 0
  }
}

/**
 * @internal Write-through proxies of typed arrays (a global's `__u32 arr[4]`, lib/globals.ts), with the
 * typed array each stands for: ArrayBuffer.isView() is false for a proxy, yet it encodes as its array.
 */
export const typedArrayViews = new WeakMap<object, ArrayBufferView>()

/** Buffer's latin1 and UTF-8 readers without toString's argument handling (Node has them on every Buffer). */
interface Slices {
  latin1Slice(start: number, end: number): string
  utf8Slice(start: number, end: number): string
}

/**
 * How many bytes the well-formed UTF-8 sequence at `i` has (Unicode's table 3-7: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 when the byte at `i` does not start one.
 */
function sequenceLength(b: Uint8Array, i: number, end: number): number {
  const c = b[i] as number
  if (c < 0x80) return 1
  const next = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < end && (b[i + k] as number) >= lo && (b[i + k] as number) <= hi
  if (c >= 0xc2 && c <= 0xdf) return next(1) ? 2 : 0
  if (c >= 0xe0 && c <= 0xef) {
    const ok = c === 0xe0 ? next(1, 0xa0) : c === 0xed ? next(1, 0x80, 0x9f) : next(1)
    return ok && next(2) ? 3 : 0
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const ok = c === 0xf0 ? next(1, 0x90) : c === 0xf4 ? next(1, 0x80, 0x8f) : next(1)
    return ok && next(2) && next(3) ? 4 : 0
  }
  return 0
}

/**
 * The string of bytes [o, end) that are not all ASCII: UTF-8, with each byte that is not part of a
 * well-formed sequence as U+DC80–U+DCFF.
 */
function decodeUtf8(b: Buffer, o: number, end: number): string {
  let i = o
  for (let n; i < end && (n = sequenceLength(b, i, end)) !== 0; i += n);
  if (i === end) return (b as unknown as Slices).utf8Slice(o, end)
  let s = (b as unknown as Slices).utf8Slice(o, i)
  while (i < end) {
    const n = sequenceLength(b, i, end)
    if (n === 0) {
      s += String.fromCharCode(0xdc00 + (b[i] as number))
      i++
    } else {
      s += (b as unknown as Slices).utf8Slice(i, i + n)
      i += n
    }
  }
  return s
}

/** The bytes of `s` as decodeUtf8 read them: UTF-8, and U+DC80–U+DCFF (unpaired) as the byte they stand for. */
function encodeUtf8(s: string): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const low = s.charCodeAt(i + 1)
      if (low >= 0xdc00 && low <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00)
        out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f))
        i++
        continue
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      out.push(c - 0xdc00)
      continue
    }
    // Any other unpaired surrogate stands for no byte and has no UTF-8 form: refused, where Buffer.from
    // would write U+FFFD in its place.
    if (c >= 0xd800 && c <= 0xdfff) {
      throw fault(`${show(s)} holds a lone surrogate, U+${c.toString(16).toUpperCase()}, which has no UTF-8 form (only U+DC80–U+DCFF stand for bytes)`)
    }
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f))
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f))
  }
  return Uint8Array.from(out)
}

/**
 * An encoding error on its way out of the generated code: each enclosing member or element adds its
 * part of the path as it unwinds, so that paths cost nothing when nothing fails.
 */
class Fault extends Error {
  path = ''
}

function fault(message: string): Fault {
  return new Fault(message)
}

function fieldError(path: string, message: string): BpfError {
  return new BpfError(`${path}: ${message}`, { code: 'EINVAL', op: 'encode' })
}

/** The fault of a value that threw while it was read: a revoked proxy, a getter that throws. */
function unreadableFault(error: unknown): Fault {
  return fault(unreadable(error))
}

/** What an encoder's error is to its caller: the field's EINVAL for a fault or a value that could not be read. */
function encodeError(error: unknown, path: string): unknown {
  if (error instanceof BpfError) return error
  const f = error instanceof Fault ? error : unreadableFault(error)
  return fieldError(path + f.path, f.message)
}

const show = describe

/**
 * The bigints 0…255, made once: a 64-bit field that holds a small value (a zero, a flag, a small
 * count: most of them in practice) then costs no allocation. Other values below 2^32 are made with
 * BigInt(u32), which V8 makes faster than DataView's getBigUint64 (Node 20, 22; as fast on 24).
 */
const SMALL = Array.from({ length: 256 }, (_, i) => BigInt(i))

/**
 * Where a decoded struct keeps its bytes when its decode lost some, non-enumerable: padding that is
 * not zero (a program that built a key on an uninitialised stack), a bool's byte other than 0 or 1,
 * a NaN's payload. Encoding it writes them back where the value still says the same, so that a key
 * read from a map finds its entry again and a value read and written back is byte-identical. Events
 * keep nothing: a ring buffer's reserved records are not zeroed, so most would, for nothing.
 */
const KEPT = Symbol('bpfkit.kept')

// Helpers the generated code calls (passed in as `h`).
const helpers = {
  KEPT,

  /**
   * `r`, keeping the `size` bytes at `o` when `lost` (what its decode lost, or'ed together) is not 0,
   * with the struct's `layout` (Btf.layout): only an encoder of that layout writes them back.
   */
  kept<T extends object>(r: T, lost: number, b: Buffer, o: number, size: number, layout: string): T {
    if (lost !== 0) Object.defineProperty(r, KEPT, { value: { layout, bytes: Uint8Array.prototype.slice.call(b, o, o + size) } })
    return r
  },

  /** The bytes a decoded struct kept (see KEPT), when it is of `layout`. */
  keptOf(v: Record<PropertyKey, unknown>, layout: string): Uint8Array | undefined {
    const kept = v[KEPT] as { layout: string; bytes: Uint8Array } | undefined
    return kept !== undefined && kept.layout === layout ? kept.bytes : undefined
  },

  /** Writes the `size` bytes of a NaN kept at `from` in `p` over the NaN just written at `o`, when they are a NaN too. */
  nanBits(b: Buffer, o: number, p: Uint8Array, from: number, size: number): void {
    const kept = new DataView(p.buffer, p.byteOffset + from, size)
    if (Number.isNaN(size === 4 ? kept.getFloat32(0, LITTLE_ENDIAN) : kept.getFloat64(0, LITTLE_ENDIAN))) b.set(p.subarray(from, from + size), o)
  },

  /** A u64 as a bigint (see SMALL). */
  u64(dv: DataView, o: number, le: boolean): bigint {
    if (dv.getUint32(o + (le ? 4 : 0), le) === 0) {
      const low = dv.getUint32(o + (le ? 0 : 4), le)
      return low < 256 ? (SMALL[low] as bigint) : BigInt(low)
    }
    return dv.getBigUint64(o, le)
  },

  /** An s64 as a bigint (see SMALL). */
  s64(dv: DataView, o: number, le: boolean): bigint {
    if (dv.getUint32(o + (le ? 4 : 0), le) === 0) {
      const low = dv.getUint32(o + (le ? 0 : 4), le)
      return low < 256 ? (SMALL[low] as bigint) : BigInt(low)
    }
    return dv.getBigInt64(o, le)
  },

  /**
   * Prefixes the path of the member or element being encoded to a fault; what the value threw while
   * it was read (a revoked proxy, a getter) becomes one there.
   */
  at(error: unknown, segment: string): unknown {
    if (error instanceof BpfError) return error
    const f = error instanceof Fault ? error : unreadableFault(error)
    f.path = segment + f.path
    return f
  },

  /** An integer of at most 53 bits, in range, as a number. */
  num(x: unknown, lo: number, hi: number, t: string): number {
    if (typeof x === 'number') {
      if (Number.isInteger(x) && x >= lo && x <= hi) return x
    } else if (typeof x === 'bigint') {
      if (x >= lo && x <= hi) return Number(x)
    } else {
      throw fault(`expected a number (${t}), got ${show(x)}`)
    }
    throw fault(`${show(x)} does not fit ${t}`)
  },

  /** A 64- or 128-bit integer, in range, as a bigint. */
  big(x: unknown, lo: bigint, hi: bigint, t: string): bigint {
    let v: bigint
    if (typeof x === 'bigint') v = x
    else if (typeof x === 'number' && Number.isSafeInteger(x)) v = BigInt(x)
    else if (typeof x === 'number') throw fault(`${show(x)} does not fit ${t} (use a bigint beyond 2^53)`)
    else throw fault(`expected a bigint or number (${t}), got ${show(x)}`)
    if (v < lo || v > hi) throw fault(`${show(x)} does not fit ${t}`)
    return v
  },

  flt(x: unknown, t: string): number {
    if (typeof x !== 'number') throw fault(`expected a number (${t}), got ${show(x)}`)
    return x
  },

  bool(x: unknown): number {
    if (typeof x === 'boolean') return x ? 1 : 0
    if (x === 0 || x === 1) return x
    throw fault(`expected a boolean, got ${show(x)}`)
  },

  /**
   * A C string in `n` bytes: up to the first NUL (see the top of this file for bytes that are not
   * UTF-8), from `cache` when it holds the same bytes. Scanned four bytes at a time; what a miss
   * costs is out of line (strMiss), so that a decoder inlines the rest.
   */
  str(dv: DataView, b: Buffer, o: number, n: number, cache: StringCache): string {
    const limit = o + n
    let end = o
    let hash = 0
    let zero = 0
    for (; end + 4 <= limit; end += 4) {
      const x = dv.getUint32(end, true)
      zero = (x - 0x01010101) & ~x & 0x80808080 // its lowest bit marks the first NUL of these four bytes
      if (zero !== 0) {
        const before = (31 - Math.clz32(zero & -zero)) >> 3
        if (before !== 0) hash = Math.imul(hash ^ (x & ((1 << (before * 8)) - 1)), 0x01000193)
        end += before
        break
      }
      hash = Math.imul(hash ^ x, 0x01000193)
    }
    // The field's last bytes, fewer than four.
    if (zero === 0) for (; end < limit && b[end] !== 0; end++) hash = Math.imul(hash ^ (b[end] as number), 0x01000193)
    if (end === o) return ''
    return cache.find(dv, b, o, end - o, hash) ?? helpers.strMiss(b, o, end, hash, cache)
  },

  /** str()'s string when `cache` did not have it: decoded, and kept. */
  strMiss(b: Buffer, o: number, end: number, hash: number, cache: StringCache): string {
    let ascii = true
    for (let i = o; i < end && ascii; i++) ascii = (b[i] as number) < 0x80
    const decoded = ascii ? (b as unknown as Slices).latin1Slice(o, end) : decodeUtf8(b, o, end)
    cache.add(b, o, end, hash, decoded)
    return decoded
  },

  putStr(x: unknown, b: Buffer, o: number, n: number, t: string): void {
    if (typeof x === 'string') {
      const length = x.length
      let i = 0
      if (length <= n) {
        // ASCII, the common case, byte by byte; anything else through encodeUtf8.
        for (; i < length; i++) {
          const c = x.charCodeAt(i)
          if (c > 0x7f) break
          b[o + i] = c
        }
      }
      if (i === length) return
      const bytes = encodeUtf8(x)
      if (bytes.length > n) throw fault(`${show(x)} is ${bytes.length} bytes, more than ${t} holds (${n})`)
      b.set(bytes, o)
    } else if (x instanceof Uint8Array) {
      if (x.length > n) throw fault(`${x.length} bytes do not fit ${t}`)
      b.set(x, o)
    } else {
      throw fault(`expected a string (${t}), got ${show(x)}`)
    }
  },

  /**
   * The NUL-separated strings in `n` bytes (an argv buffer); the empty strings that only the padding
   * makes are left out, so that encoding the list gives back the same bytes.
   */
  strs(b: Buffer, o: number, n: number): string[] {
    const strings: string[] = []
    let kept = 0
    let start = o
    for (let i = o; i <= o + n; i++) {
      if (i < o + n && b[i] !== 0) continue
      strings.push(i === start ? '' : decodeUtf8(b, start, i))
      if (i > start) kept = strings.length
      start = i + 1
    }
    strings.length = kept
    return strings
  },

  /** Strings into `n` bytes, one NUL between each (the target is zeroed): what strs() reads. */
  putStrs(x: unknown, b: Buffer, o: number, n: number, t: string): void {
    if (!Array.isArray(x)) throw fault(`expected an array of strings (${t}), got ${show(x)}`)
    let at = o
    for (let i = 0; i < x.length; i++) {
      const s: unknown = x[i]
      const bytes = typeof s === 'string' ? encodeUtf8(s) : s instanceof Uint8Array ? s : undefined
      if (bytes === undefined) throw helpers.at(fault(`expected a string, got ${show(s)}`), `[${i}]`)
      if (bytes.includes(0)) throw helpers.at(fault('a string of a NUL-separated list cannot hold a NUL'), `[${i}]`)
      if (at + bytes.length > o + n) throw fault(`${x.length} strings take more than the ${n} bytes of ${t}`)
      b.set(bytes, at)
      at += bytes.length + 1
    }
  },

  /** A copy of `bytes` bytes at `o` as a typed array `r` (made by the caller: no slicing of the source). */
  copy<A extends ArrayBufferView>(r: A, b: Buffer, o: number, bytes: number): A {
    new Uint8Array(r.buffer).set(b.subarray(o, o + bytes))
    return r
  },

  /** A view's fields are read-only. */
  readOnly(name: string): never {
    throw new BpfError(`batch.at(i).${name}: a batch view is read-only (batch.decode(i) gives a copy)`, {
      code: 'EROFS',
      op: 'batch.at',
    })
  },

  list(x: unknown, n: number, t: string): ArrayLike<unknown> {
    if (typeof x === 'object' && x !== null && !ArrayBuffer.isView(x)) x = typedArrayViews.get(x) ?? x
    if (!Array.isArray(x) && !(ArrayBuffer.isView(x) && !(x instanceof DataView))) {
      throw fault(`expected an array (${t}), got ${show(x)}`)
    }
    const list = x as ArrayLike<unknown>
    if (list.length > n) throw fault(`${list.length} elements do not fit ${t}`)
    return list
  },

  object(x: unknown, t: string): Record<string, unknown> {
    if (x === null || typeof x !== 'object' || Array.isArray(x) || x instanceof Map || ArrayBuffer.isView(x)) {
      throw fault(`expected an object (${t}), got ${show(x)}`)
    }
    return x as Record<string, unknown>
  },

  unknown(v: Record<string, unknown>, known: Record<string, true>, t: string): void {
    for (const k in v) {
      if (known[k] !== true && v[k] !== undefined) {
        throw helpers.at(fault(`${t} has no field '${k}' (fields: ${Object.keys(known).join(', ') || 'none'})`), `.${k}`)
      }
    }
  },

  /** A bitfield of up to 53 bits starting `shift` bits into byte `s`. */
  bits(b: Buffer, s: number, shift: number, bits: number, signed: boolean): number {
    let x = 0
    for (let i = Math.ceil((shift + bits) / 8) - 1; i >= 0; i--) x = x * 256 + b[s + i]
    let v = Math.floor(x / 2 ** shift) % 2 ** bits
    if (signed && v >= 2 ** (bits - 1)) v -= 2 ** bits
    return v
  },

  putBits(b: Buffer, s: number, shift: number, bits: number, v: number): void {
    const count = Math.ceil((shift + bits) / 8)
    let x = 0
    for (let i = count - 1; i >= 0; i--) x = x * 256 + b[s + i]
    const old = Math.floor(x / 2 ** shift) % 2 ** bits
    x += ((v < 0 ? v + 2 ** bits : v) - old) * 2 ** shift
    for (let i = 0; i < count; i++) {
      b[s + i] = x % 256
      x = Math.floor(x / 256)
    }
  },

  bigBits(b: Buffer, s: number, shift: number, bits: number, signed: boolean): bigint {
    let x = 0n
    for (let i = Math.ceil((shift + bits) / 8) - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[s + i])
    const v = BigInt.asUintN(bits, x >> BigInt(shift))
    return signed ? BigInt.asIntN(bits, v) : v
  },

  putBigBits(b: Buffer, s: number, shift: number, bits: number, v: bigint): void {
    const count = Math.ceil((shift + bits) / 8)
    let x = 0n
    for (let i = count - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[s + i])
    const mask = ((1n << BigInt(bits)) - 1n) << BigInt(shift)
    x = (x & ~mask) | ((BigInt.asUintN(bits, v) << BigInt(shift)) & mask)
    for (let i = 0; i < count; i++) {
      b[s + i] = Number(x & 0xffn)
      x >>= 8n
    }
  },

  /**
   * Several members of one union were given (as a decoded value has them all): writes each, and
   * fails when two of them set the same bit differently. Which bits a member sets is found by
   * encoding it over zeros and over ones: the bits it leaves alone differ.
   */
  merge(
    given: boolean[], alternatives: Array<(v: unknown, dv: DataView, b: Buffer, o: number) => void>, names: string[],
    v: unknown, b: Buffer, o: number, size: number,
  ): void {
    const set = new Uint8Array(size)
    const writer = new Array<string>(size)
    for (let k = 0; k < alternatives.length; k++) {
      if (!given[k]) continue
      const zeros = Buffer.alloc(size)
      const ones = Buffer.alloc(size, 0xff)
      ;(alternatives[k] as (v: unknown, dv: DataView, b: Buffer, o: number) => void)(v, new DataView(zeros.buffer, zeros.byteOffset, size), zeros, 0)
      ;(alternatives[k] as (v: unknown, dv: DataView, b: Buffer, o: number) => void)(v, new DataView(ones.buffer, ones.byteOffset, size), ones, 0)
      for (let i = 0; i < size; i++) {
        const mask = ~((zeros[i] as number) ^ (ones[i] as number)) & 0xff
        if (mask === 0) continue
        const old = b[o + i] as number
        if (((old ^ (zeros[i] as number)) & mask & (set[i] as number)) !== 0) {
          throw fault(`union members '${writer[i]}' and '${names[k]}' disagree: give one member of a union`)
        }
        b[o + i] = (old & ~mask) | ((zeros[i] as number) & mask)
        set[i] = (set[i] as number) | mask
        writer[i] = names[k] as string
      }
    }
  },

  int128(dv: DataView, o: number, signed: boolean): bigint {
    const lo = dv.getBigUint64(o, LITTLE_ENDIAN)
    const hi = dv.getBigUint64(o + 8, LITTLE_ENDIAN)
    const v = LITTLE_ENDIAN ? (hi << 64n) | lo : (lo << 64n) | hi
    return signed ? BigInt.asIntN(128, v) : v
  },

  putInt128(dv: DataView, o: number, v: bigint): void {
    const u = BigInt.asUintN(128, v)
    const [first, second] = LITTLE_ENDIAN ? [u & 0xffffffffffffffffn, u >> 64n] : [u >> 64n, u & 0xffffffffffffffffn]
    dv.setBigUint64(o, first, LITTLE_ENDIAN)
    dv.setBigUint64(o + 8, second, LITTLE_ENDIAN)
  },
}

const TYPED_ARRAYS: Record<string, string> = {
  u1: 'Uint8Array', s1: 'Int8Array', u2: 'Uint16Array', s2: 'Int16Array', u4: 'Uint32Array', s4: 'Int32Array',
  u8: 'BigUint64Array', s8: 'BigInt64Array', f4: 'Float32Array', f8: 'Float64Array',
}

/**
 * The typed-array class an array of `elementId` decodes to (whole 1- to 8-byte integers, 4- or
 * 8-byte floats), or undefined for a plain array. The skeleton generator types arrays by it too.
 */
export function typedArrayOf(btf: Btf, elementId: number): string | undefined {
  const e = btf.resolve(elementId)
  if (e.kind === 'int' && !e.bool && e.bits === e.size * 8 && e.bitOffset === 0) return TYPED_ARRAYS[`${e.signed ? 's' : 'u'}${e.size}`]
  if (e.kind === 'float') return TYPED_ARRAYS[`f${e.size}`]
  return undefined
}

/** Whether `id` is `char[N]` (also through typedefs of char), which decodes to a string. `u8[N]` is bytes. */
export function isCharArray(btf: Btf, id: number): boolean {
  const type = btf.resolve(id)
  if (type.kind !== 'array') return false
  const element = btf.resolve(type.type)
  return element.kind === 'int' && element.size === 1 && (element.char || element.name === 'char')
}

/** The DataView read of a `size`-byte integer at offset expression `o` (`le`: little-endian). */
function intRead(size: number, signed: boolean, o: string, le: string): string | undefined {
  switch (size) {
    case 1: return signed ? `dv.getInt8(${o})` : `b[${o}]`
    case 2: return `dv.get${signed ? 'Int' : 'Uint'}16(${o}, ${le})`
    case 4: return `dv.get${signed ? 'Int' : 'Uint'}32(${o}, ${le})`
    case 8: return `h.${signed ? 's' : 'u'}64(dv, ${o}, ${le})`
    default: return undefined
  }
}

/** One member as its parent's object shows it: anonymous structs and unions flattened in. */
interface Field {
  name: string
  type: number
  /** Bit offset from the start of the parent composite. */
  bitOffset: number
  bitSize: number
}

function cannot(btf: Btf, id: number, why: string): BpfError {
  return new BpfError(`btf.codec: cannot decode ${btf.typeName(id)}: ${why}`, { code: 'EOPNOTSUPP', op: 'btf.codec' })
}

/** Object-literal keys that make own data properties whatever the C name is (`__proto__` too). */
function key(name: string): string {
  return name === '__proto__' ? `["__proto__"]` : JSON.stringify(name)
}

/** The path of member `name` of the value at `path` (see CodecOptions.chars). */
function member(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`
}

/** Reads field `name` of `v`: own properties only where Object.prototype has the name (`constructor`). */
function read(v: string, name: string): string {
  const quoted = JSON.stringify(name)
  return name in Object.prototype ? `(Object.hasOwn(${v}, ${quoted}) ? ${v}[${quoted}] : undefined)` : `${v}[${quoted}]`
}

class Compiler {
  readonly #btf: Btf
  readonly #numbers: boolean
  readonly #functions: string[] = []
  readonly #decoders = new Map<string, string>()
  readonly #encoders = new Map<string, string>()
  readonly #views = new Map<string, string>()
  readonly #constants: unknown[] = []
  readonly #chars: ReadonlyMap<string, CharsMode>
  /** Whether decoded structs keep the bytes their decode lost (see KEPT). */
  readonly #keepBytes: boolean
  /** The paths of the char[N] fields met, for the error about a path in `chars` that is none of them. */
  readonly #charPaths = new Set<string>()
  #next = 0

  constructor(btf: Btf, int64: Int64Mode, chars: ReadonlyMap<string, CharsMode> = new Map(), keepBytes = true) {
    this.#btf = btf
    this.#numbers = int64 === 'number'
    this.#chars = chars
    this.#keepBytes = keepBytes
  }

  compile(id: number): { read: (dv: DataView, b: Buffer, o: number) => unknown; write: (v: unknown, dv: DataView, b: Buffer, o: number) => void } {
    const decode = this.#name('decode')
    const encode = this.#name('encode')
    this.#functions.push(`function ${decode}(dv, b, o) {\n  return ${this.#decodeExpr(id, 'o', '', true)};\n}`)
    this.#functions.push(`function ${encode}(x, dv, b, o) {\n${this.#encodeStatements(id, 'x', 'o', '  ', '')}\n}`)
    for (const path of this.#chars.keys()) {
      if (!this.#charPaths.has(path)) {
        const fields = [...this.#charPaths].filter((p) => !p.includes('[')).join(', ') || 'none'
        throw invalidArgument('btf.codec', `chars: '${path}' is not a char[N] field of ${this.#btf.typeName(id)} (its char[N] fields: ${fields})`)
      }
    }
    return this.#build(`{ read: ${decode}, write: ${encode} }`) as ReturnType<Compiler['compile']>
  }

  /** The view class of struct or union `id` (see CompiledCodec.view), or undefined for other types. */
  compileView(id: number): ViewClass | undefined {
    const kind = this.#btf.resolve(id).kind
    if (kind !== 'struct' && kind !== 'union') return undefined
    return this.#build(this.#viewClass(id, '')) as ViewClass
  }

  #build(result: string): unknown {
    const source = `"use strict";\n${this.#functions.join('\n')}\nreturn ${result};`
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiled once per type, from BTF only
    return new Function('h', 'K', source)(helpers, this.#constants)
  }

  #name(prefix: string): string {
    return `${prefix}${this.#next++}`
  }

  /**
   * The name of the function compiled for type `id` in `cache` (decoders or encoders), compiling it
   * the first time: `body(name)` returns its source. Registered first, so a body may refer to it.
   */
  #once(cache: Map<string, string>, id: number, path: string, prefix: string, body: (name: string) => string): string {
    const key = this.#scoped(path) ? `${id} ${path}` : String(id)
    const cached = cache.get(key)
    if (cached !== undefined) return cached
    const name = this.#name(prefix)
    cache.set(key, name)
    this.#functions.push(body(name))
    return name
  }

  /**
   * Whether `chars` names the field at `path` or one below it: the code for that place is its own,
   * not the type's shared code.
   */
  #scoped(path: string): boolean {
    for (const key of this.#chars.keys()) if (path === '' || key === path || key.startsWith(`${path}.`)) return true
    return false
  }

  /** How the char[N] field at `path` decodes; records the path as one that `chars` may name. */
  #charsMode(path: string): CharsMode | undefined {
    this.#charPaths.add(path)
    return this.#chars.get(path)
  }

  #constant(value: unknown): string {
    this.#constants.push(value)
    return `K[${this.#constants.length - 1}]`
  }

  /** The fields of a struct or union as its JS object has them. */
  #fields(id: number, base = 0): Field[] {
    const type = this.#btf.resolve(id) as Extract<BtfType, { kind: 'struct' | 'union' }>
    const fields: Field[] = []
    for (const m of type.members) {
      const inner = this.#btf.resolve(m.type)
      if (m.name === '' && (inner.kind === 'struct' || inner.kind === 'union')) {
        fields.push(...this.#fields(m.type, base + m.bitOffset))
      } else if (m.name !== '') {
        const { bitOffset, bitSize } = this.#placement(m)
        fields.push({ name: m.name, type: m.type, bitOffset: base + bitOffset, bitSize })
      }
    }
    return fields
  }

  /**
   * A member's bit position and bitfield width. Old-style BTF (kflag 0: pahole before 1.13, hand-made)
   * marks a bitfield by an int type of fewer bits than its size instead of a member bit size.
   */
  #placement(m: { type: number; bitOffset: number; bitSize: number }): { bitOffset: number; bitSize: number } {
    if (m.bitSize !== 0) return m
    const type = this.#btf.resolve(m.type)
    if (type.kind === 'int' && (type.bits !== type.size * 8 || type.bitOffset !== 0)) {
      return { bitOffset: m.bitOffset + type.bitOffset, bitSize: type.bits }
    }
    return { bitOffset: m.bitOffset, bitSize: 0 }
  }

  /** A name for messages: the declared name (typedef `u16`), else C's spelling. */
  #label(id: number): string {
    return this.#btf.typeName(id).replace(/^(const |volatile )+/, '')
  }

  // ---- decoding ----------------------------------------------------------------------------------

  #decoderFunction(id: number, path: string): string {
    return this.#once(this.#decoders, this.#btf.resolve(id).id, path, 'd',
      (name) => `function ${name}(dv, b, o) {\n  return ${this.#decodeExpr(id, 'o', path, true)};\n}`)
  }

  /**
   * A JS expression for the value of type `id` at byte offset `o` (an expression); `path` is where the
   * value is in the codec's type (`hdr.args`, `items[].name`), for `chars`.
   */
  #decodeExpr(id: number, o: string, path: string, inline = false): string {
    const btf = this.#btf
    const type = btf.resolve(id)
    const le = String(LITTLE_ENDIAN)
    switch (type.kind) {
      case 'int': {
        if (type.bits !== type.size * 8 || type.bitOffset !== 0) {
          return this.#bitfieldExpr(type.id, o, type.bitOffset, type.bits)
        }
        if (type.bool) return `(b[${o}] !== 0)`
        if (type.size === 16) return this.#numbers ? `Number(h.int128(dv, ${o}, ${type.signed}))` : `h.int128(dv, ${o}, ${type.signed})`
        const read = this.#intRead(type.size, type.signed, o)
        if (read === undefined) throw cannot(btf, id, `${type.size}-byte integers are not supported`)
        return read
      }
      case 'float':
        if (type.size === 4) return `dv.getFloat32(${o}, ${le})`
        if (type.size === 8) return `dv.getFloat64(${o}, ${le})`
        throw cannot(btf, id, `${type.size}-byte floats are not supported`)
      case 'enum':
      case 'enum64': {
        const read = this.#intRead(type.size, type.signed, o)
        if (read === undefined) throw cannot(btf, id, `${type.size}-byte enums are not supported`)
        return read
      }
      case 'ptr':
        return this.#intRead(8, false, o) as string
      case 'array':
        return this.#arrayDecodeExpr(type.id, o, path)
      case 'struct':
      case 'union': {
        if (!inline) return `${this.#decoderFunction(id, path)}(dv, b, ${o})`
        const parts = this.#fields(type.id).map((f) => {
          const byte = `${o} + ${f.bitOffset >> 3}`
          const value = f.bitSize === 0
            ? this.#decodeExpr(f.type, byte, member(path, f.name))
            : this.#bitfieldExpr(f.type, o, f.bitOffset, f.bitSize)
          return `${key(f.name)}: ${value}`
        })
        const literal = parts.length === 0 ? '{}' : `{\n    ${parts.join(',\n    ')}\n  }`
        // A struct keeps its bytes when its decode lost some (see KEPT).
        const lossy = this.#keepBytes ? this.#lossy(type.id) : undefined
        if (lossy === undefined) return literal
        const lost = [
          ...lossy.padding.map((at) => `b[${o} + ${at}]`),
          ...lossy.partial.map(([at, mask]) => `(b[${o} + ${at}] & ${~mask & 0xff})`),
          ...lossy.bools.map((at) => `(b[${o} + ${at}] & 0xfe)`),
          ...lossy.floats.map(([at, size]) => `(Number.isNaN(dv.getFloat${size * 8}(${o} + ${at}, ${le})) ? 1 : 0)`),
        ]
        return `h.kept(${literal}, ${lost.join(' | ')}, b, ${o}, ${type.size}, ${this.#constant(btf.layout(type.id))})`
      }
      case 'datasec': {
        const parts = type.vars.map((v) => {
          const variable = btf.type(v.type)
          return `${key(variable.name)}: ${this.#decodeExpr((variable as { type: number }).type, `${o} + ${v.offset}`, member(path, variable.name))}`
        })
        return `{ ${parts.join(', ')} }`
      }
      case 'fwd':
        throw cannot(btf, id, 'it is only declared (a forward declaration has no layout)')
      default:
        throw cannot(btf, id, `a ${type.kind} is not a value`)
    }
  }

  /** The read of a `size`-byte integer at offset expression `o`, 64-bit ones as this compiler decodes them. */
  #intRead(size: number, signed: boolean, o: string): string | undefined {
    const le = String(LITTLE_ENDIAN)
    if (size === 8 && this.#numbers) {
      // Little-endian only (compileCodec refuses others): the high half carries the sign.
      return `(dv.get${signed ? 'Int' : 'Uint'}32(${o} + 4, true) * 4294967296 + dv.getUint32(${o}, true))`
    }
    return intRead(size, signed, o, le)
  }

  #signed(id: number): boolean {
    const type = this.#btf.resolve(id)
    return (type.kind === 'int' || type.kind === 'enum' || type.kind === 'enum64') && type.signed
  }

  #isBool(id: number): boolean {
    const type = this.#btf.resolve(id)
    return type.kind === 'int' && type.bool
  }

  /** A bitfield of type `id`, `bits` wide, `bitOffset` bits from offset `o`. */
  #bitfieldExpr(id: number, o: string, bitOffset: number, bits: number): string {
    const byte = `${o} + ${bitOffset >> 3}`
    const shift = bitOffset & 7
    const signed = this.#signed(id)
    if (this.#btf.sizeOf(id) > 4) {
      return this.#numbers ? `Number(h.bigBits(b, ${byte}, ${shift}, ${bits}, ${signed}))` : `h.bigBits(b, ${byte}, ${shift}, ${bits}, ${signed})`
    }
    const value = `h.bits(b, ${byte}, ${shift}, ${bits}, ${signed})`
    return this.#isBool(id) ? `(${value} !== 0)` : value
  }

  #arrayDecodeExpr(id: number, o: string, path: string): string {
    const btf = this.#btf
    const type = btf.resolve(id) as Extract<BtfType, { kind: 'array' }>
    const n = type.length
    if (isCharArray(this.#btf, id)) {
      switch (this.#charsMode(path)) {
        case 'bytes': return `h.copy(new Uint8Array(${n}), b, ${o}, ${n})`
        case 'strings': return `h.strs(b, ${o}, ${n})`
        default: return `h.str(dv, b, ${o}, ${n}, ${this.#constant(new StringCache())})`
      }
    }
    const elementSize = btf.sizeOf(type.type)
    const typed = typedArrayOf(btf, type.type)
    const name = this.#once(this.#decoders, type.id, path, 'd', (fn) => {
      if (typed !== undefined) return `function ${fn}(dv, b, o) {\n${this.#typedArrayBody(typed, n, elementSize)}\n}`
      return `function ${fn}(dv, b, o) {\n  const r = new Array(${n});\n` +
        `  for (let i = 0; i < ${n}; i++) r[i] = ${this.#decodeExpr(type.type, `o + i * ${elementSize}`, `${path}[]`)};\n  return r;\n}`
    })
    return `${name}(dv, b, ${o})`
  }

  /**
   * A function body copying `n` elements at `o` into a new typed array: element by element when few
   * (cheaper than any slicing of the source), one memcpy when many. 64-bit elements in number mode
   * become a Float64Array.
   */
  #typedArrayBody(typed: string, n: number, elementSize: number): string {
    const wide = elementSize === 8 && typed.startsWith('Big')
    if (wide && this.#numbers) {
      const read = this.#intRead(8, typed === 'BigInt64Array', 'o + i * 8') as string
      return `  const r = new Float64Array(${n});\n  for (let i = 0; i < ${n}; i++) r[i] = ${read};\n  return r;`
    }
    if (n > 16 || wide) return `  return h.copy(new ${typed}(${n}), b, o, ${n * elementSize});`
    const read = typed === 'Float32Array' || typed === 'Float64Array'
      ? `dv.getFloat${elementSize * 8}(o + i * ${elementSize}, true)`
      : (intRead(elementSize, typed.startsWith('Int'), `o + i * ${elementSize}`, 'true') as string)
    return `  const r = new ${typed}(${n});\n  for (let i = 0; i < ${n}; i++) r[i] = ${read};\n  return r;`
  }

  // ---- views ---------------------------------------------------------------------------------------

  /**
   * The class of views over struct or union `id`: a getter per field (anonymous members flattened, as
   * in decoded objects) reading the bytes where the view stands; nested structs and unions are views
   * too (one per parent, repositioned on each read); arrays and strings are copies.
   */
  #viewClass(id: number, path: string): string {
    const type = this.#btf.resolve(id)
    return this.#once(this.#views, type.id, path, 'V', (name) => {
      const fields = this.#fields(type.id)
      const members: string[] = []
      const nested: string[] = []
      for (const f of fields) {
        const key = `[${JSON.stringify(f.name)}]`
        const inner = this.#btf.resolve(f.type)
        const byte = f.bitOffset >> 3
        let body: string
        if (f.bitSize === 0 && (inner.kind === 'struct' || inner.kind === 'union')) {
          const child = this.#viewClass(inner.id, member(path, f.name))
          const slot = `#n${nested.length}`
          nested.push(`  ${slot} = undefined;`)
          body = `return ${child}.at(this.${slot} ??= new ${child}(), this.#dv, this.#b, this.#o + ${byte});`
        } else {
          const value = f.bitSize === 0 ? this.#decodeExpr(f.type, `o + ${byte}`, member(path, f.name)) : this.#bitfieldExpr(f.type, 'o', f.bitOffset, f.bitSize)
          // Only the fields the expression reads: a private field's load checks the brand, so that
          // an unused one is not optimized away.
          const locals = ['dv', 'b', 'o'].filter((local) => new RegExp(`\\b${local}\\b`).test(value))
          body = `${locals.length === 0 ? '' : `const ${locals.map((local) => `${local} = this.#${local}`).join(', ')}; `}return ${value};`
        }
        members.push(`  get ${key}() { ${body} }`, `  set ${key}(v) { h.readOnly(${JSON.stringify(f.name)}); }`)
      }
      const decoder = this.#decoderFunction(type.id, path)
      const names = new Set(fields.map((f) => f.name))
      // What console.log and JSON.stringify show: a decoded copy (unless a field takes the name).
      const copy = `  [Symbol.for("nodejs.util.inspect.custom")]() { return ${decoder}(this.#dv, this.#b, this.#o); }` +
        (names.has('toJSON') ? '' : `\n  ["toJSON"]() { return ${decoder}(this.#dv, this.#b, this.#o); }`)
      return `class ${name} {\n  #dv = undefined;\n  #b = undefined;\n  #o = 0;\n${nested.join('\n')}\n` +
        `  static at(v, dv, b, o) { v.#dv = dv; v.#b = b; v.#o = o; return v; }\n` +
        `  static bind(v, dv, b) { v.#dv = dv; v.#b = b; }\n` +
        `  static place(v, o) { v.#o = o; return v; }\n${members.join('\n')}\n${copy}\n}`
    })
  }

  // ---- encoding ----------------------------------------------------------------------------------

  /** Statements writing JS value `x` (a variable) of type `id` at offset `o`, at `path` (see #decodeExpr). */
  #encodeStatements(id: number, x: string, o: string, indent: string, path: string): string {
    const btf = this.#btf
    const type = btf.resolve(id)
    const label = JSON.stringify(this.#label(id))
    const le = String(LITTLE_ENDIAN)
    switch (type.kind) {
      case 'int':
      case 'enum':
      case 'enum64': {
        const bits = type.kind === 'int' ? type.bits : type.size * 8
        if (type.kind === 'int' && (type.bits !== type.size * 8 || type.bitOffset !== 0)) {
          return this.#bitfieldStatements(type.id, x, o, type.bitOffset, type.bits, indent)
        }
        if (type.kind === 'int' && type.bool) return `${indent}b[${o}] = h.bool(${x});`
        const s = type.signed
        if (type.size === 16) {
          const [lo, hi] = range(128, s)
          return `${indent}h.putInt128(dv, ${o}, h.big(${x}, ${lo}n, ${hi}n, ${label}));`
        }
        if (type.size === 8) {
          const [lo, hi] = range(64, s)
          // Inline fast path for an in-range bigint; numbers and errors go through h.big.
          const fast = `(typeof ${x} === "bigint" && BigInt.as${s ? 'Int' : 'Uint'}N(64, ${x}) === ${x} ? ${x} : h.big(${x}, ${lo}n, ${hi}n, ${label}))`
          return `${indent}dv.setBig${s ? 'Int' : 'Uint'}64(${o}, ${fast}, ${le});`
        }
        let [lo, hi] = range(bits, s)
        // An enum not marked signed may come from clang < 15, which marks none: take signed values too.
        if (type.kind !== 'int' && !s) lo = range(bits, true)[0]
        // Inline fast path for an in-range integer number; anything else goes through h.num.
        const v = `(typeof ${x} === "number" && ${x} >= ${lo} && ${x} <= ${hi} && Math.floor(${x}) === ${x} ? ${x} : h.num(${x}, ${lo}, ${hi}, ${label}))`
        switch (type.size) {
          case 1: return `${indent}b[${o}] = ${v};`
          case 2: return `${indent}dv.set${s ? 'Int' : 'Uint'}16(${o}, ${v}, ${le});`
          case 4: return `${indent}dv.set${s ? 'Int' : 'Uint'}32(${o}, ${v}, ${le});`
        }
        throw cannot(btf, id, `${type.size}-byte integers are not supported`)
      }
      case 'float':
        return `${indent}dv.setFloat${type.size * 8}(${o}, h.flt(${x}, ${label}), ${le});`
      case 'ptr':
        return `${indent}dv.setBigUint64(${o}, h.big(${x}, 0n, 18446744073709551615n, ${label}), ${le});`
      case 'array':
        return this.#arrayEncodeStatements(id, x, o, indent, path)
      case 'struct':
      case 'union':
        return `${indent}${this.#compositeEncoder(id, path)}(${x}, dv, b, ${o});`
      case 'datasec': {
        const lines = [`${indent}const v = h.object(${x}, ${label});`]
        type.vars.forEach((sv, i) => {
          const variable = btf.type(sv.type) as { name: string; type: number }
          lines.push(`${indent}const v${i} = ${read('v', variable.name)};`)
          lines.push(`${indent}if (v${i} !== undefined) try {`)
          lines.push(this.#encodeStatements(variable.type, `v${i}`, `${o} + ${sv.offset}`, `${indent}  `, member(path, variable.name)))
          lines.push(`${indent}} catch (e) { throw h.at(e, ${JSON.stringify(`.${variable.name}`)}); }`)
        })
        return lines.join('\n')
      }
      case 'fwd':
        throw cannot(btf, id, 'it is only declared (a forward declaration has no layout)')
      default:
        throw cannot(btf, id, `a ${type.kind} is not a value`)
    }
  }

  #bitfieldStatements(id: number, x: string, o: string, bitOffset: number, bits: number, indent: string): string {
    const byte = `${o} + ${bitOffset >> 3}`
    const shift = bitOffset & 7
    const [lo, hi] = range(bits, this.#signed(id))
    const what = JSON.stringify(`${this.#label(id)}:${bits}`)
    if (this.#isBool(id)) return `${indent}h.putBits(b, ${byte}, ${shift}, ${bits}, h.bool(${x}));`
    if (this.#btf.sizeOf(id) > 4) {
      return `${indent}h.putBigBits(b, ${byte}, ${shift}, ${bits}, h.big(${x}, ${lo}n, ${hi}n, ${what}));`
    }
    return `${indent}h.putBits(b, ${byte}, ${shift}, ${bits}, h.num(${x}, ${lo}, ${hi}, ${what}));`
  }

  #arrayEncodeStatements(id: number, x: string, o: string, indent: string, path: string): string {
    const btf = this.#btf
    const type = btf.resolve(id) as Extract<BtfType, { kind: 'array' }>
    const label = JSON.stringify(this.#label(id))
    const n = type.length
    if (isCharArray(this.#btf, id)) {
      // 'bytes' needs nothing of its own: putStr takes a Uint8Array as it is.
      return `${indent}h.${this.#charsMode(path) === 'strings' ? 'putStrs' : 'putStr'}(${x}, b, ${o}, ${n}, ${label});`
    }
    const name = this.#once(this.#encoders, type.id, path, 'e', (fn) => {
      const elementSize = btf.sizeOf(type.type)
      const typed = typedArrayOf(btf, type.type)
      const fast = typed === undefined
        ? ''
        : `  if (x instanceof ${typed}) { b.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), o); return; }\n`
      return `function ${fn}(x, dv, b, o) {\n  const l = h.list(x, ${n}, ${label});\n${fast}` +
        `  for (let i = 0; i < l.length; i++) {\n    const e = l[i];\n    if (e === undefined) continue;\n    try {\n` +
        `${this.#encodeStatements(type.type, 'e', `o + i * ${elementSize}`, '      ', `${path}[]`)}\n` +
        `    } catch (error) { throw h.at(error, "[" + i + "]"); }\n  }\n}`
    })
    return `${indent}${name}(${x}, dv, b, ${o});`
  }

  /** The encoder function of a struct or union: checks the object, then writes each field given. */
  #compositeEncoder(id: number, path: string): string {
    const type = this.#btf.resolve(id)
    return this.#once(this.#encoders, type.id, path, 'e', (name) => {
      const label = JSON.stringify(this.#label(id))
      const names = this.#fields(type.id).map((f) => f.name)
      const known: Record<string, true> = Object.create(null)
      for (const field of names) known[field] = true
      // Unknown fields: a switch over the field names is much faster than a dictionary lookup per key.
      const cases = names.map((field) => `case ${JSON.stringify(field)}: `).join('')
      const body = [
        `  const v = h.object(x, ${label});`,
        names.length === 0
          ? `  h.unknown(v, ${this.#constant(known)}, ${label});`
          : `  for (const k in v) { switch (k) { ${cases}continue; } h.unknown(v, ${this.#constant(known)}, ${label}); }`,
        this.#compositeBody(type.id, 'o', '  ', path),
        ...this.#restoreStatements(type.id),
      ]
      return `function ${name}(x, dv, b, o) {\n${body.join('\n')}\n}`
    })
  }

  /**
   * Where a decode of struct `id` can lose bytes, or undefined when it cannot (a union's members
   * overlap: none is looked at): `padding`, the bytes no member covers; `partial`, bytes that
   * bitfields cover only in part ([offset, the bits they cover]); `bools`, members whose byte may be
   * other than 0 or 1; `floats`, members whose NaN may carry a payload or a sign ([offset, size]).
   */
  #lossy(id: number): { padding: number[]; partial: Array<[number, number]>; bools: number[]; floats: Array<[number, number]> } | undefined {
    const type = this.#btf.resolve(id)
    if (type.kind !== 'struct') return undefined
    // How many members cover each byte: a bool or float that shares its bytes with another member (of
    // an anonymous union) is left alone, as the other may have changed them. And which bits of it.
    const covered = new Uint8Array(type.size)
    const bits = new Uint8Array(type.size)
    const fields = this.#fields(type.id).map((f) => {
      const first = f.bitOffset >> 3
      const end = Math.min(f.bitSize === 0 ? first + this.#btf.sizeOf(f.type) : (f.bitOffset + f.bitSize + 7) >> 3, type.size)
      for (let at = first; at < end; at++) covered[at] = Math.min(255, (covered[at] as number) + 1)
      if (f.bitSize === 0) bits.fill(0xff, first, end)
      for (let k = f.bitOffset; f.bitSize !== 0 && k < f.bitOffset + f.bitSize && k >> 3 < type.size; k++) {
        // BTF numbers a bitfield's bits from the first byte's lowest bit (highest, big-endian).
        bits[k >> 3] = (bits[k >> 3] as number) | (1 << (LITTLE_ENDIAN ? k & 7 : 7 - (k & 7)))
      }
      return { f, first, end }
    })
    const bools: number[] = []
    const floats: Array<[number, number]> = []
    for (const { f, first, end } of fields) {
      const member = this.#btf.resolve(f.type)
      if (f.bitSize !== 0 || (f.bitOffset & 7) !== 0 || covered.subarray(first, end).some((c) => c !== 1)) continue
      if (member.kind === 'int' && member.bool && member.size === 1 && member.bits === 8) bools.push(first)
      if (member.kind === 'float' && (member.size === 4 || member.size === 8)) floats.push([first, member.size])
    }
    const padding: number[] = []
    const partial: Array<[number, number]> = []
    bits.forEach((mask, at) => (mask === 0 ? padding.push(at) : mask !== 0xff && partial.push([at, mask])))
    return padding.length + partial.length + bools.length + floats.length === 0 ? undefined : { padding, partial, bools, floats }
  }

  /**
   * An encoder's last statements: what a decoded struct kept (see KEPT) back where the value says
   * the same: its padding, a bool's byte that is as true or false, a NaN's bits for a NaN.
   */
  #restoreStatements(id: number): string[] {
    const lossy = this.#lossy(id)
    if (lossy === undefined) return []
    const le = String(LITTLE_ENDIAN)
    return [
      `  const p = h.keptOf(v, ${this.#constant(this.#btf.layout(id))});`,
      `  if (p !== undefined) {`,
      ...lossy.padding.map((at) => `    b[o + ${at}] = p[${at}];`),
      ...lossy.partial.map(([at, mask]) => `    b[o + ${at}] = (b[o + ${at}] & ${mask}) | (p[${at}] & ${~mask & 0xff});`),
      ...lossy.bools.map((at) => `    if ((b[o + ${at}] !== 0) === (p[${at}] !== 0)) b[o + ${at}] = p[${at}];`),
      ...lossy.floats.map(([at, size]) => `    if (Number.isNaN(dv.getFloat${size * 8}(o + ${at}, ${le}))) h.nanBits(b, o + ${at}, p, ${at}, ${size});`),
      `  }`,
    ]
  }

  /** Statements writing the members of struct or union `id` (which read `v`) at offset `o`. */
  #compositeBody(id: number, o: string, indent: string, path: string): string {
    const btf = this.#btf
    const type = btf.resolve(id) as Extract<BtfType, { kind: 'struct' | 'union' }>
    const members = type.members.filter((m) => m.name !== '' || ['struct', 'union'].includes(btf.resolve(m.type).kind))
    const write = (m: (typeof members)[number], target: string, indentation: string): string => {
      const inner = btf.resolve(m.type)
      if (m.name === '') {
        // An anonymous struct or union: its fields are the parent's.
        return this.#compositeBody(inner.id, `${target} + ${m.bitOffset >> 3}`, indentation, path)
      }
      const variable = this.#name('x')
      const { bitOffset, bitSize } = this.#placement(m)
      const statements = bitSize === 0
        ? this.#encodeStatements(m.type, variable, `${target} + ${bitOffset >> 3}`, `${indentation}  `, member(path, m.name))
        : this.#bitfieldStatements(m.type, variable, target, bitOffset, bitSize, `${indentation}  `)
      // The path of a failing member is added as the error unwinds: nothing is built when all is well.
      return `${indentation}const ${variable} = ${read('v', m.name)};\n` +
        `${indentation}if (${variable} !== undefined) try {\n${statements}\n` +
        `${indentation}} catch (e) { throw h.at(e, ${JSON.stringify(`.${m.name}`)}); }`
    }
    if (type.kind === 'struct') return members.map((m) => write(m, o, indent)).join('\n')

    // A union: one member given is written as it is. Several (a decoded value holds them all) are
    // merged: each must agree, bit for bit, with what the others wrote where both write.
    const present = (m: (typeof members)[number]): string => m.name !== ''
      ? `${read('v', m.name)} !== undefined`
      : this.#fields(m.type).map((f) => `${read('v', f.name)} !== undefined`).join(' || ') || 'false'
    const label = (m: (typeof members)[number]): string => m.name || this.#fields(m.type).map((f) => f.name).join('/')
    const alternatives = members.map((m) => {
      const name = this.#name('a')
      this.#functions.push(`function ${name}(v, dv, b, o) {\n${write(m, 'o', '  ')}\n}`)
      return name
    })
    const given = this.#name('g')
    const lines = [`${indent}const ${given} = [${members.map((m) => `${present(m)}`).join(', ')}];`]
    const count = members.map((_, k) => `${given}[${k}]`).join(' + ')
    lines.push(`${indent}switch (${members.length === 0 ? 0 : count}) {`, `${indent}  case 0: break;`, `${indent}  case 1:`)
    members.forEach((_, k) => lines.push(`${indent}    if (${given}[${k}]) ${alternatives[k]}(v, dv, b, ${o});`))
    lines.push(
      `${indent}    break;`,
      `${indent}  default: h.merge(${given}, [${alternatives.join(', ')}], ${JSON.stringify(members.map(label))}, v, b, ${o}, ${type.size});`,
      `${indent}}`,
    )
    return lines.join('\n')
  }
}

function range(bits: number, signed: boolean): [string, string] {
  if (signed) return [(-(2n ** BigInt(bits - 1))).toString(), (2n ** BigInt(bits - 1) - 1n).toString()]
  return ['0', (2n ** BigInt(bits) - 1n).toString()]
}

/**
 * @internal A compiled view class: `at(view, dv, b, o)` places a view (made with `new`) over the
 * bytes `dv` and `b` cover, at offset `o`, and returns it; `bind` sets the bytes, `place` the offset.
 */
export interface ViewClass {
  new (): object
  at(view: object, dv: DataView, b: Buffer, o: number): object
  bind(view: object, dv: DataView, b: Buffer): void
  place(view: object, o: number): object
}

function offsetOf(op: string, offset: unknown): number {
  if (offset === undefined) return 0
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalidArgument(op, `offset must be a non-negative integer, got ${show(offset)}`)
  }
  return offset
}

function bytesOf(op: string, what: string, bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw invalidArgument(op, `${what} must be a Buffer or Uint8Array, got ${show(bytes)}`)
  return bytes
}

function checkMany(op: string, size: number, bytes: unknown, offset: unknown, stride: unknown, count: unknown): Uint8Array {
  const checked = bytesOf(op, 'bytes', bytes)
  const start = offsetOf(op, offset)
  if (typeof stride !== 'number' || !Number.isSafeInteger(stride) || stride < size || typeof count !== 'number' ||
    !Number.isSafeInteger(count) || count < 0) {
    throw invalidArgument(op, `the stride must be an integer of at least ${size} and the count a non-negative integer`)
  }
  if (count > 0 && start + (count - 1) * stride + size > checked.length) throw rangeError(op, size, checked.length, start + (count - 1) * stride)
  return checked
}

function rangeError(op: string, size: number, length: number, offset: number): BpfError {
  return new BpfError(`${op}: a ${size}-byte value at offset ${offset} does not fit ${length} bytes`, {
    code: 'EINVAL',
    op,
  })
}

/**
 * Zeroes `size` bytes at absolute offset `o` of what `dv` and `b` cover. Small values in JS, 8 bytes per
 * store (+0.0 is eight zero bytes): a call into Buffer.fill costs more than the stores (50–75 ns, against
 * 16 ns for 24 bytes; 29 ns byte by byte).
 */
function zero(dv: DataView, b: Buffer, o: number, size: number): void {
  if (size > 64) {
    b.fill(0, o, o + size)
    return
  }
  const end = o + size
  let i = o
  for (; i + 8 <= end; i += 8) dv.setFloat64(i, 0)
  for (; i < end; i++) b[i] = 0
}

// A zero-size type reads nothing: any view will do.
const EMPTY = viewsOfBuffer(new ArrayBuffer(0))

/** @internal A codec as compiled: the checked public methods, and the unchecked decoder readers use. */
export class CompiledCodec<T = any> implements Codec<T> {
  readonly typeId: number
  readonly size: number
  /**
   * Decodes the value at absolute offset `o` of the ArrayBuffer that `dv` and `b` cover, unchecked:
   * for callers that checked the bounds once for many values (a batch of events).
   */
  readonly read: (dv: DataView, b: Buffer, o: number) => T
  readonly #write: (value: unknown, dv: DataView, b: Buffer, o: number) => void
  readonly #view: () => ViewClass | undefined

  constructor(typeId: number, size: number, read: (dv: DataView, b: Buffer, o: number) => unknown,
    write: (value: unknown, dv: DataView, b: Buffer, o: number) => void, view: () => ViewClass | undefined) {
    this.typeId = typeId
    this.size = size
    this.read = read as (dv: DataView, b: Buffer, o: number) => T
    this.#write = write
    this.#view = view
  }

  /** The view class of a struct or union type (compiled on first use), or undefined for other types. */
  get view(): ViewClass | undefined {
    return this.#view()
  }

  decode(bytes: Uint8Array, offset?: number): T {
    const checked = bytesOf('codec.decode', 'bytes', bytes)
    const start = offsetOf('codec.decode', offset)
    if (start + this.size > checked.length) throw rangeError('codec.decode', this.size, checked.length, start)
    if (this.size === 0) return this.read(EMPTY.view, EMPTY.buffer, 0)
    const v = viewsOf(checked)
    return this.read(v.view, v.buffer, checked.byteOffset + start)
  }

  /**
   * Writes `value` at absolute offset `o` of what `dv` and `b` cover, zeroing its bytes first: for
   * callers that checked the bounds (a map's scratch buffers). Errors name the field under `path`.
   */
  writeAt(value: unknown, dv: DataView, b: Buffer, o: number, path: string): void {
    zero(dv, b, o, this.size)
    try {
      this.#write(value, dv, b, o)
    } catch (error) {
      throw encodeError(error, path)
    }
  }

  /**
   * Writes element `part` of each of `rows` (arrays, as [key, value] entries) at `o + i * stride` of
   * what `dv` and `b` cover, which the caller zeroed and sized; errors name the row as `name(i)`.
   */
  writeColumn(rows: ReadonlyArray<readonly unknown[]>, part: number, dv: DataView, b: Buffer, o: number, stride: number,
    name: (index: number) => string): void {
    let i = 0
    try {
      for (; i < rows.length; i++) this.#write((rows[i] as readonly unknown[])[part], dv, b, o + i * stride)
    } catch (error) {
      throw encodeError(error, name(i))
    }
  }

  encodeInto(value: T, target: Uint8Array, offset?: number, path = 'value'): void {
    const checked = bytesOf('codec.encode', 'the target', target)
    const start = offsetOf('codec.encode', offset)
    const size = this.size
    if (start + size > checked.length) throw rangeError('codec.encode', size, checked.length, start)
    const v = size === 0 ? EMPTY : viewsOf(checked)
    zero(v.view, v.buffer, checked.byteOffset + start, size)
    try {
      this.#write(value, v.view, v.buffer, checked.byteOffset + start)
    } catch (error) {
      throw encodeError(error, String(path))
    }
  }

  encode(value: T, path = 'value'): Buffer {
    const target = Buffer.alloc(this.size)
    this.encodeInto(value, target, 0, path)
    return target
  }

  decodeMany(bytes: Uint8Array, offset: number, stride: number, count: number): T[] {
    const checked = checkMany('codec.decodeMany', this.size, bytes, offset, stride, count)
    const v = this.size === 0 || count === 0 ? EMPTY : viewsOf(checked)
    const out = new Array<T>(count)
    const base = checked.byteOffset + offset
    for (let i = 0; i < count; i++) out[i] = this.read(v.view, v.buffer, base + i * stride)
    return out
  }

  encodeMany(values: ArrayLike<T>, target: Uint8Array, offset: number, stride: number,
    name: (index: number) => string = (i) => `value[${i}]`): void {
    if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<T>).length !== 'number') {
      throw invalidArgument('codec.encodeMany', `values must be an array, got ${show(values)}`)
    }
    if (typeof name !== 'function') throw invalidArgument('codec.encodeMany', 'name must be a function')
    const checked = checkMany('codec.encodeMany', this.size, target, offset, stride, values.length)
    checked.fill(0, offset, offset + values.length * stride)
    const v = this.size === 0 || values.length === 0 ? EMPTY : viewsOf(checked)
    const base = checked.byteOffset + offset
    let i = 0
    try {
      for (; i < values.length; i++) this.#write(values[i], v.view, v.buffer, base + i * stride)
    } catch (error) {
      throw encodeError(error, name(i))
    }
  }
}

/** @internal Compiles the codec of BTF type `id` (Btf.codec caches it). */
export function compileCodec(btf: Btf, id: number, int64: Int64Mode = 'bigint', chars: ReadonlyMap<string, CharsMode> = new Map(),
  keepBytes = true): CompiledCodec {
  if (!LITTLE_ENDIAN) {
    throw new BpfError('btf.codec: big-endian hosts are not supported yet', { code: 'EOPNOTSUPP', op: 'btf.codec' })
  }
  const { read, write } = new Compiler(btf, int64, chars, keepBytes).compile(id)
  let view: ViewClass | undefined
  let compiled = false
  return new CompiledCodec(id, btf.sizeOf(id), read, write, () => {
    if (!compiled) {
      view = new Compiler(btf, int64, chars).compileView(id)
      compiled = true
    }
    return view
  })
}
