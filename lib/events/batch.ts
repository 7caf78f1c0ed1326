// EventBatch: the records of one drain as the reader hands them to 'batch' listeners (native/batch.cc
// fills the arrays).
import { invalidArgument } from '../errors'
import type { RecordType } from './decode'
import type { OnCpu, Tagged } from './reader'

/** The event type inside a reader's events: `E` of `{ map, event: E }` and `{ cpu, event: E }`. */
export type EventOf<T> = T extends Tagged<infer E> ? E : T extends OnCpu<infer E> ? E : T

/**
 * What `batch.at(i)` gives: a view of the event whose getters read its fields from the batch's bytes.
 * Nested structs are views too; arrays and strings read as copies. Read-only.
 */
export type EventView<T> = T extends ArrayBufferView | ReadonlyArray<unknown> | string | number | bigint | boolean ? T
  : T extends object ? { readonly [K in keyof T]: EventView<T[K]> } : T

/**
 * @internal Records drained but not delivered yet: a batch (the live native one, or a copy of its
 * undelivered part once the consumers fall behind), read from `next` on.
 */
export interface Pending {
  dv: DataView
  b: Buffer
  offsets: Uint32Array
  lengths: Uint32Array
  sources: Uint16Array
  count: number
  next: number
  /** Bytes this copy holds (0 for the live batch). */
  bytes: number
}

/** @internal How a reader shows each event: as decoded, or tagged with its map or CPU. */
export type Tagging = 'none' | 'map' | 'cpu'

/** @internal How a reader reads its records: per map (ring buffers) or one for all (perf buffers, whose source is the CPU). */
export interface Records {
  readonly types: readonly RecordType[]
  readonly maps: readonly string[]
  readonly tagging: Tagging
  readonly perCpu: boolean
}

/** @internal The event of record `i` of `p`, as the reader shows it. */
export function eventAt<T>(records: Records, p: Pending, i: number): T {
  const source = p.sources[i] as number
  const types = records.types
  const type = (types.length === 1 ? types[0] : types[source]) as RecordType
  const event = type.decode(p.dv, p.b, p.offsets[i] as number, p.lengths[i] as number)
  if (records.tagging === 'none') return event as T
  return (records.tagging === 'map' ? { map: records.maps[source], event } : { cpu: source, event }) as T
}

/**
 * The events of one drain, for the fastest path (`reader.on('batch', …)`): the records sit in `bytes`.
 * The object, its arrays and its views are reused: valid only during the callback.
 */
export class EventBatch<T> {
  /** Events in this batch. */
  count = 0
  /** The drained records; record i is `bytes.subarray(offsets[i], offsets[i] + lengths[i])`. */
  bytes: Uint8Array = new Uint8Array(0)
  readonly #live: Pending
  readonly #records: Records
  // at(i)'s fast path, when every record has one type with a view: its instance, its class's
  // place(), and the type's size (Infinity otherwise: no record is long enough).
  readonly #instance: object | undefined
  readonly #place: ((view: object, offset: number) => object) | undefined
  readonly #size: number

  /** @internal */
  constructor(live: Pending, records: Records) {
    this.#live = live
    this.#records = records
    const view = records.types.length === 1 ? (records.types[0] as RecordType).view : undefined
    this.#instance = view?.instance
    this.#place = view?.View.place
    this.#size = view?.size ?? Infinity
  }

  /** Where each record starts in `bytes` (the first `count` entries are this batch's); 8-byte aligned. */
  get offsets(): Uint32Array {
    return this.#live.offsets
  }

  /** Each record's length. */
  get lengths(): Uint32Array {
    return this.#live.lengths
  }

  /** Event `index`, decoded into a new object as the reader decodes events (yours to keep). */
  decode(index: number): T {
    this.#check(index)
    return eventAt<T>(this.#records, this.#live, index)
  }

  /**
   * Event `index` as a view: one reused object per map whose getters read the fields straight from
   * `bytes`, so reading a batch allocates nothing but the values read (a 64-bit field is a bigint
   * unless the reader has `int64: 'number'`; strings and arrays are copies). The view moves to the
   * next event with the next call: keep values, not views. Events without a BTF struct or union type
   * come decoded, as from decode(i) but without the `{ map }`/`{ cpu }` tag.
   */
  at(index: number): EventView<EventOf<T>> {
    const live = this.#live
    if (typeof index === 'number' && index < this.count && index >>> 0 === index && (live.lengths[index] as number) >= this.#size) {
      return this.#place!(this.#instance as object, live.offsets[index] as number) as EventView<EventOf<T>>
    }
    return this.#at(index) as EventView<EventOf<T>>
  }

  // Kept out of at(), which stays small enough to be inlined into the caller's loop.
  #at(index: number): unknown {
    this.#check(index)
    const live = this.#live
    const types = this.#records.types
    const type = (types.length === 1 ? types[0] : types[live.sources[index] as number]) as RecordType
    const offset = live.offsets[index] as number
    const length = live.lengths[index] as number
    return type.view === undefined ? type.decode(live.dv, live.b, offset, length) : type.view.at(offset, length)
  }

  /** The name of the map event `index` came from. */
  map(index: number): string {
    this.#check(index)
    const records = this.#records
    return (records.perCpu ? records.maps[0] : records.maps[this.#live.sources[index] as number]) as string
  }

  /** The CPU whose ring event `index` came from (perf buffers); undefined for ring buffers. */
  cpu(index: number): number | undefined {
    this.#check(index)
    return this.#records.perCpu ? this.#live.sources[index] : undefined
  }

  #check(index: number): void {
    // typeof first: `>>>` and `<` throw a TypeError for a Symbol.
    if (!(typeof index === 'number' && index >>> 0 === index && index < this.count)) {
      throw invalidArgument('batch', `index ${typeof index === 'number' ? index : typeof index} is outside this batch of ${this.count}`)
    }
  }
}
