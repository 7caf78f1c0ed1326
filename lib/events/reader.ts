// EventReader: what ring buffer and perf buffer readers share — batches from native code, one queue of
// undelivered records that every surface reads from ('data', the async iterator, stream()), and the
// native pause/resume that keeps that queue bounded.
import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'
import { BpfError, describe, invalidArgument, reading } from '../errors'
import { charsOf, int64Of } from '../btf/btf'
import { viewsOfBuffer, type CharFields, type Int64Mode } from '../btf/codec'
import type { RecordType } from './decode'
import type { EventReaderHandle } from '../native'
import { EventBatch, eventAt, type Pending, type Records, type Tagging } from './batch'

/** Turns one event's bytes into a value. `view` covers the whole batch: read from `offset`. */
export interface Decoder<T> {
  decode(view: DataView, offset: number, length: number): T
}

export interface ReaderOptions<T> {
  /**
   * The BTF struct the events are (its name without `struct`, e.g. `'event'`), when the map does not
   * declare it (BPFKIT_RINGBUF and BPFKIT_PERFBUF do).
   */
  type?: string | undefined
  /** Decodes each event yourself; without `type`, `decoder` or a declared type, events are Buffers. */
  decoder?: Decoder<T> | undefined
  /** Most events handed over per drain, so a fast producer cannot starve the event loop (default 16384, at most 2^20). */
  batchEvents?: number | undefined
  /** Most bytes per drain (default 1 MiB, at most 256 MiB); larger records still arrive whole. */
  batchBytes?: number | undefined
  /**
   * Bytes of records that iterators and streams may hold undelivered before reading pauses (default
   * 16 MiB, at most 2^31 - 1): the kernel keeps (or drops, counted) the rest.
   */
  highWaterMark?: number | undefined
  /** `'number'`: 64-bit fields decode as numbers, exact below 2^53 (default: the object's, else bigint). */
  int64?: Int64Mode | undefined
  /**
   * `char[N]` fields of the events to decode as bytes or as a list of strings (an argv buffer), by
   * path: `{ args: 'strings' }` (see CodecOptions.chars). `T` should say so.
   */
  chars?: CharFields | undefined
  /** Closes the reader when aborted; iterators and streams then fail with the signal's reason. */
  signal?: AbortSignal | undefined
}

/** An event of a reader over several maps: which map it came from, and the event. */
export interface Tagged<T> {
  map: string
  event: T
}

/** An event of a perf buffer read with `withCpu: true`: the CPU whose ring it came from, and the event. */
export interface OnCpu<T> {
  cpu: number
  event: T
}

/** The events a reader emits, for its typed `on`/`once`/`off`. */
export interface ReaderEvents<T> {
  /** Each event, decoded. */
  data: [event: T]
  /** Each drain, before its events: the fastest path. */
  batch: [batch: EventBatch<T>]
  /** The reader cannot go on (the kernel's poll failed). */
  error: [error: Error]
  /** After close(). */
  close: []
}

const DEFAULTS = { batchEvents: 16384, batchBytes: 1 << 20, highWaterMark: 16 << 20 }
// The native reader allocates its batch buffers up front from these.
const LIMITS = { batchEvents: 1 << 20, batchBytes: 1 << 28, highWaterMark: 0x7fffffff }

function positiveInteger(op: string, name: keyof typeof LIMITS, value: unknown): number {
  if (value === undefined) return DEFAULTS[name]
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > LIMITS[name]) {
    throw invalidArgument(op, `${name} must be an integer from 1 to ${LIMITS[name]}, got ${describe(value)}`)
  }
  return value
}

/** @internal Checks the options every reader takes and gives the native batch sizes. */
export function readerOptions(op: string, options: ReaderOptions<unknown>): { batchEvents: number; batchBytes: number } {
  if (options === null || typeof options !== 'object') throw invalidArgument(op, 'options must be an object')
  if (options.decoder !== undefined && reading(op, 'decoder', () => typeof options.decoder?.decode !== 'function')) {
    throw invalidArgument(op, 'decoder must have a decode(view, offset, length) method')
  }
  if (options.type !== undefined && (typeof options.type !== 'string' || options.type === '')) {
    throw invalidArgument(op, 'type must be the name of a BTF struct, e.g. "event"')
  }
  if (options.signal !== undefined && !reading(op, 'signal', () => options.signal instanceof AbortSignal)) {
    throw invalidArgument(op, 'signal must be an AbortSignal')
  }
  int64Of(op, options)
  charsOf(op, options)
  positiveInteger(op, 'highWaterMark', options.highWaterMark)
  return {
    batchEvents: positiveInteger(op, 'batchEvents', options.batchEvents),
    batchBytes: positiveInteger(op, 'batchBytes', options.batchBytes),
  }
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void
  reject(error: unknown): void
  /** The event for it threw (its decoder, a 'data' listener): the loop is left, which closes the reader. */
  fail(error: unknown): void
}

type Listener = (event: unknown) => void

/**
 * Events from BPF maps. Created paused: reading starts with a 'data' or 'batch' listener, an
 * iterator, a stream or resume(). Events are drained on the JS thread, one JS call per batch.
 *
 * Every surface reads one queue: each event is decoded once, when it is delivered, and goes to the
 * 'data' listeners and to one iterator or the stream. With no iterator or stream, 'data' listeners
 * get each batch's events as it arrives. An iterator or stream that falls behind holds whole batches
 * (not decoded events) up to `highWaterMark` bytes; then the reader stops draining the kernel's ring.
 *
 * `T` is what each event is: with one map the decoded event, with several `{ map, event }`.
 */
export abstract class EventReader<T> extends EventEmitter<ReaderEvents<T>> implements AsyncIterable<T>, Disposable {
  /** Names of the maps this reader reads. */
  readonly maps: readonly string[]
  readonly #handle: EventReaderHandle
  readonly #records: Records
  /** The decoder of every record, when events are shown as decoded (one map, no tag): the fast path. */
  readonly #plain: RecordType['decode'] | undefined
  readonly #highWaterMark: number
  readonly #batch: EventBatch<T>
  readonly #live: Pending
  readonly #op: string
  #buffer: ArrayBuffer | undefined
  #onClose: (() => void) | undefined
  #signal: { signal: AbortSignal; listener: () => void } | undefined
  #closed = false
  #paused = false
  #resumed = false
  #reading = false
  #queue: Pending[] = []
  #queued = 0
  #waiters: Waiter<T>[] = []
  #iterators = 0
  #stream: EventStream<T> | undefined
  #streamWants = false
  #streamEnded = false
  #listeners: Listener[] | undefined
  /** Set when what a delivery loop relies on changes: it stops or re-reads the listeners. */
  #dirty = false
  #delivering = false
  #error: unknown

  // A listener that is not a function is a BpfError, as any other wrong argument, not EventEmitter's
  // TypeError: the methods that take one check it first.
  static {
    for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener', 'off', 'removeListener'] as const) {
      const inherited = EventEmitter.prototype[method]
      Object.defineProperty(this.prototype, method, {
        configurable: true,
        writable: true,
        value: function (this: EventReader<unknown>, event: string | symbol, listener: unknown): EventReader<unknown> {
          if (typeof listener !== 'function') throw invalidArgument(`${this.#op}.${method}`, `the listener must be a function, got ${describe(listener)}`)
          return inherited.call(this, event, listener as (...args: unknown[]) => void) as EventReader<unknown>
        },
      })
    }
  }

  /** @internal */
  protected constructor(op: string, handle: EventReaderHandle, maps: readonly string[], types: readonly RecordType[],
    tagging: Tagging, options: ReaderOptions<unknown>, onClose?: () => void) {
    super()
    this.#op = op
    this.maps = maps
    this.#handle = handle
    // Perf buffer records come from one map, and their source is the CPU.
    this.#records = { types, maps, tagging, perCpu: op === 'perfBuffer' }
    this.#plain = tagging === 'none' && types.length === 1 ? (types[0] as RecordType).decode : undefined
    this.#highWaterMark = positiveInteger(op, 'highWaterMark', options.highWaterMark)
    const views = handle.views
    const { view, buffer } = viewsOfBuffer(views.buffer)
    this.#buffer = views.buffer
    this.#live = { dv: view, b: buffer, offsets: views.offsets, lengths: views.lengths, sources: views.sources, count: 0, next: 0, bytes: 0 }
    this.#batch = new EventBatch<T>(this.#live, this.#records)
    this.#batch.bytes = new Uint8Array(views.buffer)
    for (const type of types) type.view?.bind(view, buffer)
    this.#onClose = onClose
    handle.onbatch = (buffer, count) => this.#onBatch(buffer, count)
    handle.onerror = (error) => this.#fail(error)
    // Listeners change what the reader does: it reads once one is added (after it is), and a delivery
    // loop in progress re-reads them.
    const emitter = this as unknown as EventEmitter
    emitter.on('newListener', (event: string | symbol) => {
      if (event === 'data' || event === 'batch') {
        this.#changed()
        queueMicrotask(() => this.#update())
      }
    })
    emitter.on('removeListener', (event: string | symbol) => {
      if (event === 'data' || event === 'batch') {
        this.#changed()
        queueMicrotask(() => this.#update())
      }
    })
    const signal = options.signal
    if (signal !== undefined) {
      const listener = (): void => this.#abort(signal.reason)
      if (signal.aborted) queueMicrotask(listener)
      else signal.addEventListener('abort', listener, { once: true })
      this.#signal = { signal, listener }
    }
  }

  get closed(): boolean {
    return this.#closed
  }

  get paused(): boolean {
    return this.#paused
  }

  /** Stops reading: events wait in the kernel (which drops new ones once full). Events already drained wait here. */
  pause(): this {
    this.#ensureOpen('pause')
    this.#paused = true
    this.#changed()
    this.#update()
    return this
  }

  /** Reads again after pause() (and starts reading with no listener: events are then dropped here). */
  resume(): this {
    this.#ensureOpen('resume')
    this.#paused = false
    this.#resumed = true
    this.#pump()
    return this
  }

  /**
   * The reader as a Node Readable in object mode (the same one on each call). It drains the kernel's
   * ring while the stream reads and pauses it when the stream's buffer is full, so a slow consumer
   * leaves events in the kernel (where drops are counted). Destroying it closes the reader.
   */
  stream(): Readable {
    this.#ensureOpen('stream')
    if (this.#stream === undefined) {
      this.#stream = new EventStream<T>({
        read: () => {
          this.#streamWants = true
          this.#pump()
        },
        // Destroyed, the stream gets nothing more: not the events still queued, nor an end.
        destroy: () => {
          this.#streamEnded = true
          this.close()
        },
      })
      this.#changed()
    }
    return this.#stream
  }

  /** Stops reading and frees the reader; iterators and the stream finish after the events they already hold. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#changed()
    this.#handle.close()
    this.#handle.onbatch = undefined
    this.#handle.onerror = undefined
    if (this.#signal !== undefined) this.#signal.signal.removeEventListener('abort', this.#signal.listener)
    this.#settle()
    const onClose = this.#onClose
    this.#onClose = undefined
    onClose?.()
    this.emit('close')
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** Yields events in order; leaving the loop early (break, throw) closes the reader, as with a stream. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    this.#iterators++
    this.#changed()
    this.#update()
    let done = false
    const finish = (): IteratorResult<T> => {
      if (!done) {
        done = true
        this.#iterators--
        this.#changed()
      }
      return { done: true, value: undefined }
    }
    // A decoder or 'data' listener that throws rejects next(): the loop is left, as by a throw in its
    // body, and that closes the reader.
    const fail = (error: unknown): unknown => {
      finish()
      this.close()
      return error
    }
    return {
      next: () => {
        if (done) return Promise.resolve({ done: true, value: undefined })
        if (this.#queue.length > 0) {
          let value: T
          try {
            value = this.#take()
          } catch (error) {
            return Promise.reject(fail(error))
          }
          this.#update()
          return Promise.resolve({ done: false, value })
        }
        if (this.#error !== undefined) {
          finish()
          return Promise.reject(this.#error)
        }
        if (this.#closed) return Promise.resolve(finish())
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.#waiters.push({ resolve, reject, fail: (error) => reject(fail(error)) })
          this.#update()
        })
      },
      return: () => {
        finish()
        this.close()
        return Promise.resolve({ done: true, value: undefined })
      },
    }
  }

  #ensureOpen(method: string): void {
    if (this.#closed) {
      throw new BpfError(`${this.#op}.${method}: the reader is closed`, { code: 'ECLOSED', op: `${this.#op}.${method}` })
    }
  }

  /** Whether events go through the queue to pullers (iterators, the stream) rather than straight to 'data'. */
  #pulling(): boolean {
    return this.#iterators > 0 || this.#stream !== undefined
  }

  #changed(): void {
    this.#listeners = undefined
    this.#dirty = true
  }

  #wanted(): boolean {
    if (this.#closed || this.#paused) return false
    if (this.#pulling()) {
      return this.#queued < this.#highWaterMark && (this.#iterators > 0 || this.#streamWants || this.#waiters.length > 0)
    }
    if (this.#queue.length > 0) return false
    return this.#resumed || this.listenerCount('data') > 0 || this.listenerCount('batch') > 0
  }

  /** Starts or stops the native reader to match what the consumers want (a native call only on a change). */
  #update(): void {
    if (this.#closed) return
    const wanted = this.#wanted()
    if (wanted === this.#reading) return
    this.#reading = wanted
    if (wanted) this.#handle.resume()
    else this.#handle.pause()
  }

  #onBatch(buffer: ArrayBuffer, count: number): void {
    const live = this.#live
    if (buffer !== this.#buffer) {
      // The native batch grew, or made its buffers anew because one was transferred away (Revive in
      // native/batch.cc): new views over them.
      const { view, buffer: b } = viewsOfBuffer(buffer)
      const { offsets, lengths, sources } = this.#handle.views
      this.#buffer = buffer
      live.dv = view
      live.b = b
      live.offsets = offsets
      live.lengths = lengths
      live.sources = sources
      this.#batch.bytes = new Uint8Array(buffer)
      for (const type of this.#records.types) type.view?.bind(view, b)
    }
    live.count = count
    live.next = 0
    try {
      if (this.listenerCount('batch') > 0) {
        this.#batch.count = count
        try {
          this.emit('batch', this.#batch)
        } finally {
          this.#batch.count = 0
        }
      }
      if (this.#closed) return
      if (!this.#pulling() && this.#queue.length === 0 && !this.#paused && this.listenerCount('data') > 0) this.#flow(live)
    } catch (error) {
      this.#afterThrow()
      throw error
    } finally {
      // What was not delivered waits for whoever takes it (with nobody to take it, it is dropped), also
      // when a listener or a decoder threw.
      if (!this.#closed && live.next < count && (this.#pulling() || this.listenerCount('data') > 0)) this.#enqueue(live)
    }
    this.#pump()
  }

  /**
   * After a listener or a decoder threw: the error goes on (an uncaught exception, as any listener's
   * is) and what is left is delivered in the next loop turn, not lost.
   */
  #afterThrow(): void {
    setImmediate(() => this.#pump())
  }

  /** Copies what is left of the live batch into the queue: the next drain reuses the native buffer. */
  #enqueue(live: Pending): void {
    const from = live.next
    const count = live.count
    const start = live.offsets[from] as number
    const end = (live.offsets[count - 1] as number) + (live.lengths[count - 1] as number)
    const copy = new Uint8Array(end - start)
    copy.set(new Uint8Array(live.b.buffer, start, end - start))
    const offsets = live.offsets.slice(from, count)
    for (let i = 0; i < offsets.length; i++) (offsets[i] as number) -= start
    const { view, buffer } = viewsOfBuffer(copy.buffer)
    this.#queue.push({
      dv: view, b: buffer, offsets, lengths: live.lengths.slice(from, count), sources: live.sources.slice(from, count),
      count: count - from, next: 0, bytes: copy.length,
    })
    this.#queued += copy.length
    live.next = count
  }

  /**
   * Hands the records of `p` from `p.next` on to the 'data' listeners, until all are delivered or a
   * change (pause, close, a new iterator or stream) stops it; false then.
   */
  #flow(p: Pending): boolean {
    this.#delivering = true
    try {
      for (;;) {
        this.#dirty = false
        const listeners = this.#dataListeners()
        const plain = this.#plain
        const whole = plain !== undefined && listeners.length === 1
          ? this.#deliverTo(p, plain, listeners[0] as Listener)
          : this.#deliver(p, listeners)
        if (whole) return true
        // A listener changed what delivery relies on: stop, or go on with the listeners as they are now.
        if (this.#closed || this.#paused || this.#pulling() || this.listenerCount('data') === 0) return false
      }
    } finally {
      this.#delivering = false
    }
  }

  /**
   * #flow's common case, one listener and records of one type, as a loop of its own that V8 compiles
   * with the decoder and the listener inlined; false once a change stops it. `p.next` counts each
   * record before it is decoded: a record its decoder throws on is not decoded again.
   */
  #deliverTo(p: Pending, plain: RecordType['decode'], listener: Listener): boolean {
    const { dv, b, offsets, lengths, count } = p
    for (let i = p.next; i < count; i++) {
      p.next = i + 1
      listener(plain(dv, b, offsets[i] as number, lengths[i] as number))
      if (this.#dirty) return false
    }
    return true
  }

  /** #flow for several listeners or records of several types; false once a change stops it. */
  #deliver(p: Pending, listeners: Listener[]): boolean {
    const { dv, b, offsets, lengths, count } = p
    const plain = this.#plain
    for (let i = p.next; i < count; i++) {
      p.next = i + 1
      const event = plain !== undefined ? plain(dv, b, offsets[i] as number, lengths[i] as number) : eventAt<T>(this.#records, p, i)
      for (const listener of listeners) listener(event)
      if (this.#dirty) return false
    }
    return true
  }

  /**
   * The 'data' listeners, bound to the reader as EventEmitter calls them: a per-event
   * `listener.call(this, event)` looks up `call` on each listener, which V8 cannot specialize when
   * the listeners change (one lookup cost as much as decoding a small event).
   */
  #dataListeners(): Listener[] {
    this.#listeners ??= this.rawListeners('data').map((listener) => (listener as Listener).bind(this))
    return this.#listeners
  }

  /** The next queued event, to a puller: decoded now, and shown to the 'data' listeners too. */
  #take(): T {
    const p = this.#queue[0] as Pending
    const at = p.next++
    if (p.next === p.count) {
      this.#queue.shift()
      this.#queued -= p.bytes
    }
    // Decoded once it is taken from the queue: a record its decoder throws on is gone, not stuck.
    const event = eventAt<T>(this.#records, p, at)
    for (const listener of this.#dataListeners()) listener(event)
    return event
  }

  /** Delivers queued events to whoever can take them now, then starts or stops the native reader. */
  #pump(): void {
    if (this.#delivering) return
    while (this.#queue.length > 0 && !this.#closed && !this.#paused) {
      if (this.#waiters.length > 0) {
        const waiter = this.#waiters.shift() as Waiter<T>
        let value: T
        try {
          value = this.#take()
        } catch (error) {
          waiter.fail(error)
          continue
        }
        waiter.resolve({ done: false, value })
      } else if (this.#stream !== undefined && this.#streamWants) {
        // One that throws destroys the stream with its error, as a Readable's _read() that throws.
        const stream = this.#stream
        let event: T
        try {
          event = this.#take()
        } catch (error) {
          stream.destroy(error as Error)
          break
        }
        this.#streamWants = stream.push(event)
      } else if (!this.#pulling() && this.listenerCount('data') > 0) {
        const p = this.#queue[0] as Pending
        let whole = false
        try {
          whole = this.#flow(p)
        } catch (error) {
          this.#afterThrow()
          throw error
        } finally {
          if (p.next === p.count) {
            this.#queue.shift()
            this.#queued -= p.bytes
          }
        }
        if (!whole) break
      } else {
        break
      }
    }
    if (this.#closed) this.#settle()
    this.#update()
  }

  #abort(reason: unknown): void {
    if (this.#closed) return
    this.#error = reason ?? new DOMException('The operation was aborted', 'AbortError')
    // Aborting stops every surface now, as the stream stops: what waits undelivered goes.
    this.#queue.length = 0
    this.#queued = 0
    this.close()
  }

  #fail(error: Error): void {
    this.#error = error
    this.#settle()
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  // Ends the pullers once the queue cannot serve them: iterators waiting for an event that will not
  // come, and the stream after the events it still has.
  #settle(): void {
    const stream = this.#stream
    if (stream !== undefined && !this.#streamEnded && (this.#error !== undefined || this.#closed)) {
      this.#streamEnded = true
      if (this.#error !== undefined) {
        stream.destroy(this.#error as Error)
      } else {
        try {
          while (this.#queue.length > 0) stream.push(this.#take())
          stream.push(null)
        } catch (error) {
          // A decoder or 'data' listener threw: the stream ends with its error, and close() goes on.
          stream.destroy(error as Error)
        }
      }
    }
    if (this.#queue.length > 0 && this.#error === undefined) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) {
      if (this.#error !== undefined) waiter.reject(this.#error)
      else waiter.resolve({ done: true, value: undefined })
    }
  }
}

/** The Readable of reader.stream(): reading asks the reader for events; destroying it closes the reader. */
class EventStream<T> extends Readable {
  readonly #reader: { read(): void; destroy(): void }

  constructor(reader: { read(): void; destroy(): void }) {
    super({ objectMode: true, highWaterMark: 256 })
    this.#reader = reader
  }

  override _read(): void {
    this.#reader.read()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#reader.destroy()
    callback(error)
  }

  /** Typed for the reader's events. */
  override push(chunk: T | null): boolean {
    return super.push(chunk)
  }
}
