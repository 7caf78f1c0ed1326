// UserRingBuffer: records from JavaScript to BPF programs through a BPF_MAP_TYPE_USER_RINGBUF map.
import type { UserRingBufferHandle } from '../native'
import type { BpfMap } from '../map'
import type { Codec, Init } from '../btf/codec'
import { BpfError, invalidArgument } from '../errors'

export interface UserRingBufferOptions {
  /** The BTF struct the records are, when the map does not declare it (BPFKIT_USER_RINGBUF does). */
  type?: string | undefined
}

/**
 * Writes records into a user ring buffer, where the object's programs drain them with
 * bpf_user_ringbuf_drain(). Each write is one record (8-byte header, padded to 8 bytes).
 */
export class UserRingBuffer<T = any> implements Disposable {
  readonly #handle: UserRingBufferHandle
  readonly #map: BpfMap
  readonly #codec: Codec | undefined
  readonly #scratch: Buffer | undefined
  readonly #onClose: () => void
  #closed = false
  #written = 0

  /** @internal User ring buffers come from `BpfObject.userRingBuffer()`. */
  constructor(handle: UserRingBufferHandle, map: BpfMap, codec: Codec | undefined, onClose: () => void) {
    this.#handle = handle
    this.#map = map
    this.#codec = codec
    this.#scratch = codec === undefined ? undefined : Buffer.alloc(codec.size)
    this.#onClose = onClose
  }

  /** The ring's size in bytes (its maxEntries). */
  get size(): number {
    return this.#map.maxEntries
  }

  /** Records written so far. */
  get written(): number {
    return this.#written
  }

  /**
   * Writes one record: a value of the record type (omitted fields are zero), or its bytes. Throws
   * ENOSPC when the ring is full: the programs have not drained it yet.
   */
  write(record: Init<T> | Uint8Array): void {
    const op = 'userRingBuffer.write'
    if (this.#closed) throw new BpfError(`${op}: the user ring buffer is closed`, { code: 'ECLOSED', op, origin: 'state' })
    let bytes: Uint8Array
    if (record instanceof Uint8Array) {
      bytes = record
    } else if (this.#codec !== undefined) {
      this.#codec.encodeInto(record, this.#scratch!, 0, 'record')
      bytes = this.#scratch!
    } else {
      throw invalidArgument(op, `map '${this.#map.name}' has no record type: write bytes (a Uint8Array), or name the type`,
        "userRingBuffer(name, { type: 'command' }), or declare the map with BPFKIT_USER_RINGBUF")
    }
    if (bytes.length === 0 || bytes.length > this.size - 8) {
      throw invalidArgument(op, `a record takes 1 to ${this.size - 8} bytes (the ring's size less its header), not ${bytes.length}`)
    }
    if (!this.#handle.write(bytes)) {
      throw new BpfError(`${op}: the ring is full (${this.size} bytes): its program has not drained it yet`, {
        code: 'ENOSPC', op,
        hint: 'the program drains the ring when it runs bpf_user_ringbuf_drain(): trigger it, or write less before it runs',
      })
    }
    this.#written++
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Releases the ring's mapping. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#handle.close()
    this.#onClose()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
