// EventBatch: the records of one drain as the reader hands them to 'batch' listeners (native/batch.cc
// fills the arrays).
import { invalidArgument } from '../errors'
import type { EventReaderHandle } from '../native'

/**
 * The events of one drain, for the fastest path (`reader.on('batch', …)`): the records sit back to
 * back in `bytes`. The object and its arrays are reused: valid only during the callback.
 */
export class EventBatch<T> {
  /** Events in this batch. */
  count = 0
  /** The drained records; record i is `bytes.subarray(offsets[i], offsets[i] + lengths[i])`. */
  bytes: Uint8Array = new Uint8Array(0)
  /** Where each record starts in `bytes` (the first `count` entries are this batch's). */
  readonly offsets: Uint32Array
  /** Each record's length. */
  readonly lengths: Uint32Array
  readonly #sources: Uint16Array
  readonly #maps: readonly string[]
  readonly #decode: (index: number) => T

  /** @internal */
  constructor(views: NativeViews, maps: readonly string[], decode: (index: number) => T) {
    this.offsets = views.offsets
    this.lengths = views.lengths
    this.#sources = views.sources
    this.#maps = maps
    this.#decode = decode
  }

  /** Event `index`, decoded as the reader decodes events. */
  decode(index: number): T {
    this.#check(index)
    return this.#decode(index)
  }

  /** The name of the map event `index` came from. */
  map(index: number): string {
    this.#check(index)
    return this.#maps[this.#sources[index] as number] as string
  }

  #check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw invalidArgument('batch', `index ${index} is outside this batch of ${this.count}`)
    }
  }
}

/** @internal The batch arrays the native reader fills. */
export type NativeViews = EventReaderHandle['views']
