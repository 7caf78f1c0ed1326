// Record decoders: how a reader turns one record of a batch into an event — by BTF type, by the
// user's decoder, or as a copy of its bytes.
import { BpfError } from '../errors'
import type { Btf } from '../btf/btf'
import type { Decoder } from './reader'

/** @internal Decodes the record at `offset` (`length` bytes) of a batch (`bytes` and `view` cover it). */
export type RecordDecoder<T> = (bytes: Uint8Array, view: DataView, offset: number, length: number) => T

/** @internal A copy of the record's bytes. */
export const rawRecord: RecordDecoder<Buffer> = (bytes, _view, offset, length) => Buffer.copyBytesFrom(bytes, offset, length)

/** @internal The user's decoder. */
export function customRecord<T>(decoder: Decoder<T>): RecordDecoder<T> {
  return (_bytes, view, offset, length) => decoder.decode(view, offset, length)
}

/**
 * @internal Records of BTF type `id`, decoded by its codec. A record shorter than the type (a program
 * may output less than the whole struct) reads as if zero-padded.
 */
export function typedRecord<T>(btf: Btf, id: number): RecordDecoder<T> {
  const codec = btf.codec<T>(id)
  const size = codec.size
  const padded = Buffer.alloc(size)
  return (bytes, _view, offset, length) => {
    if (length >= size) return codec.decode(bytes, offset)
    padded.fill(0)
    padded.set(bytes.subarray(offset, offset + length))
    return codec.decode(padded, 0)
  }
}

/**
 * @internal The BTF type of a map's events: `options.type` (a struct name), else the type
 * BPFKIT_RINGBUF recorded (the pointer variable `<map>__bpfkit_event`), else none.
 */
export function eventType(btf: Btf | undefined, map: string, type: string | undefined, op: string): number | undefined {
  if (type !== undefined) {
    const found = btf?.find(type, 'struct') ?? btf?.find(type, 'union') ?? btf?.find(type, 'typedef')
    if (found === undefined) {
      throw new BpfError(`${op}: the object's BTF has no struct, union or typedef named '${type}'`, {
        code: 'ENOENT',
        op,
        hint: btf === undefined ? 'compile the object with -g' : 'a type only used through pointers may be left out of BTF: BPFKIT_RINGBUF records it',
      })
    }
    return found.id
  }
  const declared = btf?.find(`${map}__bpfkit_event`, 'var')
  if (declared === undefined || declared.kind !== 'var') return undefined
  const pointer = btf!.resolve(declared.type)
  return pointer.kind === 'ptr' ? pointer.type : undefined
}
