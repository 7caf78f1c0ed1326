// Record types: how a reader turns one record of a batch into an event — by BTF type (with a view class
// for batch.at(i)), by the user's decoder, or as a copy of its bytes.
import { BpfError } from '../errors'
import type { Btf } from '../btf/btf'
import type { CharsMode, Int64Mode, ViewClass } from '../btf/codec'
import type { Decoder } from './reader'

/**
 * @internal How the records of one map are read. `decode` reads the record at absolute `offset`
 * (`length` bytes) of the ArrayBuffer that `dv` and `b` cover; the reader checked the batch's bounds.
 */
export interface RecordType<T = unknown> {
  decode(dv: DataView, b: Buffer, offset: number, length: number): T
  /**
   * The reused view of typed records of a struct or union: `bind` it to the batch's bytes (again
   * when they change), then `at` places it over the record at `offset`.
   */
  view?: {
    bind(dv: DataView, b: Buffer): void
    at(offset: number, length: number): object
    /** The class, its view over the batch and the type's size: batch.at(i)'s fast path for whole records. */
    readonly View: ViewClass
    readonly instance: object
    readonly size: number
  }
}

/** @internal A copy of the record's bytes. */
export const rawRecord: RecordType<Buffer> = {
  decode: (_dv, b, offset, length) => Buffer.copyBytesFrom(b, offset, length),
}

/** @internal The user's decoder. */
export function customRecord<T>(decoder: Decoder<T>): RecordType<T> {
  return { decode: (dv, _b, offset, length) => decoder.decode(dv, offset, length) }
}

/**
 * @internal Records of BTF type `id`, decoded by its codec. A record shorter than the type (a program
 * may output less than the whole struct) reads as if zero-padded.
 */
export function typedRecord<T>(btf: Btf, id: number, int64: Int64Mode, chars?: ReadonlyMap<string, CharsMode>): RecordType<T> {
  // Events are read, not written back: no struct keeps the bytes its decode lost (see the codecs' KEPT).
  const codec = btf.compiled<T>(id, int64, chars, false)
  const size = codec.size
  const read = codec.read
  const padded = Buffer.alloc(size)
  const paddedView = new DataView(padded.buffer, padded.byteOffset, size)
  const pad = (b: Buffer, offset: number, length: number): void => {
    padded.fill(0)
    padded.set(b.subarray(offset, offset + length))
  }
  const type: RecordType<T> = {
    decode: (dv, b, offset, length) => {
      if (length >= size) return read(dv, b, offset)
      pad(b, offset, length)
      return read(paddedView, padded, padded.byteOffset)
    },
  }
  const View: ViewClass | undefined = codec.view
  if (View !== undefined) {
    const view = new View()
    // A short record's view reads a padded copy, which the next short record replaces.
    const short = View.at(new View(), paddedView, padded, padded.byteOffset)
    let bytes: Buffer = padded
    type.view = {
      View,
      instance: view,
      size,
      bind: (dv, b) => {
        View.bind(view, dv, b)
        bytes = b
      },
      at: (offset, length) => {
        if (length >= size) return View.place(view, offset)
        pad(bytes, offset, length)
        return short
      },
    }
  }
  return type
}

/**
 * @internal The BTF type of a map's events: `options.type` (a struct name), else the type
 * BPFKIT_RINGBUF or BPFKIT_PERFBUF recorded (the pointer variable `<map>__bpfkit_event`), else none.
 */
export function eventType(btf: Btf | undefined, map: string, type: string | undefined, op: string): number | undefined {
  if (type !== undefined) {
    const found = btf?.find(type, 'struct') ?? btf?.find(type, 'union') ?? btf?.find(type, 'typedef')
    if (found === undefined) {
      throw new BpfError(`${op}: the object's BTF has no struct, union or typedef named '${type}'`, {
        code: 'ENOENT',
        op,
        hint: btf === undefined ? 'compile the object with -g' : 'a type only used through pointers may be left out of BTF: BPFKIT_RINGBUF/BPFKIT_PERFBUF record it',
      })
    }
    return found.id
  }
  const declared = btf?.find(`${map}__bpfkit_event`, 'var')
  if (declared === undefined || declared.kind !== 'var') return undefined
  const pointer = btf!.resolve(declared.type)
  return pointer.kind === 'ptr' ? pointer.type : undefined
}
