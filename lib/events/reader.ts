// EventReader: what ring buffer and perf buffer readers share — batches from native code, and the
// surfaces over them: 'batch' and 'data' events, an async iterator, a Readable stream, pause/resume.
import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'
import { BpfError, invalidArgument } from '../errors'
import type { RecordDecoder } from './decode'
import type { EventReaderHandle } from '../native'
import { EventBatch } from './batch'

/** Turns one event's bytes into a value. `view` covers the whole batch: read from `offset`. */
export interface Decoder<T> {
  decode(view: DataView, offset: number, length: number): T
}

export interface ReaderOptions<T> {
  /**
   * The BTF struct the events are (its name without `struct`, e.g. `'event'`), when the map does not
   * declare it (BPFKIT_RINGBUF does).
   */
  type?: string
  /** Decodes each event yourself; without `type`, `decoder` or a declared type, events are Buffers. */
  decoder?: Decoder<T>
  /** Most events handed over per drain, so a fast producer cannot starve the event loop (default 4096, at most 2^20). */
  batchEvents?: number
  /** Most bytes per drain (default 1 MiB, at most 256 MiB); larger records still arrive whole. */
  batchBytes?: number
  /** Events iterators and streams may hold before reading pauses (default 65536); the kernel keeps (or drops) the rest. */
  highWaterMark?: number
  /** Closes the reader when aborted; iterators and streams then fail with the signal's reason. */
  signal?: AbortSignal
}

/** An event of a reader over several maps: which map it came from, and the event. */
export interface Tagged<T> {
  map: string
  event: T
}

const DEFAULTS = { batchEvents: 4096, batchBytes: 1 << 20, highWaterMark: 65536 }
// The native reader allocates its batch buffers up front from these.
const LIMITS = { batchEvents: 1 << 20, batchBytes: 1 << 28, highWaterMark: 0x7fffffff }

function positiveInteger(op: string, name: keyof typeof LIMITS, value: number | undefined): number {
  if (value === undefined) return DEFAULTS[name]
  if (!Number.isInteger(value) || value <= 0 || value > LIMITS[name]) {
    throw invalidArgument(op, `${name} must be an integer from 1 to ${LIMITS[name]}`)
  }
  return value
}

/** @internal Checks the options every reader takes and gives the native batch sizes. */
export function readerOptions(op: string, options: ReaderOptions<unknown>): { batchEvents: number; batchBytes: number } {
  if (options === null || typeof options !== 'object') throw invalidArgument(op, 'options must be an object')
  if (options.decoder !== undefined && typeof options.decoder?.decode !== 'function') {
    throw invalidArgument(op, 'decoder must have a decode(view, offset, length) method')
  }
  if (options.type !== undefined && (typeof options.type !== 'string' || options.type === '')) {
    throw invalidArgument(op, 'type must be the name of a BTF struct, e.g. "event"')
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalidArgument(op, 'signal must be an AbortSignal')
  }
  positiveInteger(op, 'highWaterMark', options.highWaterMark)
  return {
    batchEvents: positiveInteger(op, 'batchEvents', options.batchEvents),
    batchBytes: positiveInteger(op, 'batchBytes', options.batchBytes),
  }
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void
  reject(error: unknown): void
}

/**
 * Events from BPF maps. Created paused: reading starts with a 'data' or 'batch' listener, an
 * iterator, a stream or resume(). Events are drained on the JS thread, one JS call per batch.
 *
 * `T` is what each event is: with one map the decoded event, with several `{ map, event }`.
 */
export abstract class EventReader<T> extends EventEmitter implements AsyncIterable<T>, Disposable {
  /** Names of the maps this reader reads. */
  readonly maps: readonly string[]
  readonly #handle: EventReaderHandle
  readonly #decoders: readonly RecordDecoder<unknown>[]
  readonly #highWaterMark: number
  readonly #batch: EventBatch<unknown>
  readonly #offsets: Uint32Array
  readonly #lengths: Uint32Array
  readonly #sources: Uint16Array
  readonly #tagged: boolean
  readonly #op: string
  #bytes = new Uint8Array(0)
  #view = new DataView(new ArrayBuffer(0))
  #onClose: (() => void) | undefined
  #signal: { signal: AbortSignal; listener: () => void } | undefined
  #closed = false
  #paused = false
  #flowing = false
  #queue: T[] = []
  #waiters: Waiter<T>[] = []
  #iterators = 0
  #error: unknown

  /** @internal */
  protected constructor(op: string, handle: EventReaderHandle, maps: readonly string[], decoders: readonly RecordDecoder<unknown>[],
    options: ReaderOptions<unknown>, onClose?: () => void) {
    super()
    this.#op = op
    this.maps = maps
    this.#handle = handle
    this.#decoders = decoders
    this.#tagged = maps.length > 1
    this.#highWaterMark = positiveInteger(op, 'highWaterMark', options.highWaterMark)
    const views = handle.views
    this.#offsets = views.offsets
    this.#lengths = views.lengths
    this.#sources = views.sources
    this.#batch = new EventBatch(views, maps, (i) => this.#decodeOne(i))
    this.#onClose = onClose
    handle.onbatch = (buffer, count) => this.#onBatch(buffer, count)
    handle.onerror = (error) => this.#fail(error)
    this.on('newListener', (event) => {
      if (event === 'data' || event === 'batch') queueMicrotask(() => this.#update())
    })
    this.on('removeListener', () => queueMicrotask(() => this.#update()))
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

  /** Stops reading: events wait in the kernel (which drops new ones once full). */
  pause(): this {
    this.#ensureOpen('pause')
    this.#paused = true
    this.#update()
    return this
  }

  /** Reads again after pause() (and starts reading with no listener: events are then dropped here). */
  resume(): this {
    this.#ensureOpen('resume')
    this.#paused = false
    this.#flowing = true
    this.#update()
    return this
  }

  /**
   * A Node Readable in object mode over the events. It reads only while its buffer has room, so a
   * slow consumer leaves events in the kernel (and drops are counted there). Destroying it closes
   * the reader.
   */
  stream(): Readable {
    this.#ensureOpen('stream')
    return Readable.from(this, { objectMode: true, highWaterMark: Math.min(this.#highWaterMark, 1024) })
  }

  /** Stops reading and frees the reader; iterators finish after the events they already hold. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
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
    this.#update()
    let done = false
    const finish = (): IteratorResult<T> => {
      if (!done) {
        done = true
        this.#iterators--
      }
      return { done: true, value: undefined }
    }
    return {
      next: () => {
        if (done) return Promise.resolve({ done: true, value: undefined })
        if (this.#queue.length > 0) {
          const value = this.#queue.shift() as T
          this.#update()
          return Promise.resolve({ done: false, value })
        }
        if (this.#error !== undefined) {
          finish()
          return Promise.reject(this.#error)
        }
        if (this.#closed) return Promise.resolve(finish())
        return new Promise<IteratorResult<T>>((resolve, reject) => this.#waiters.push({ resolve, reject }))
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

  #wanted(): boolean {
    if (this.#closed || this.#paused) return false
    if (this.#iterators > 0) return this.#queue.length < this.#highWaterMark
    return this.#flowing || this.listenerCount('data') > 0 || this.listenerCount('batch') > 0
  }

  #update(): void {
    if (this.#closed) return
    if (this.#wanted()) this.#handle.resume()
    else this.#handle.pause()
  }

  #decodeOne(index: number): unknown {
    const source = this.#sources[index] as number
    return (this.#decoders[source] as RecordDecoder<unknown>)(this.#bytes, this.#view, this.#offsets[index] as number,
      this.#lengths[index] as number)
  }

  #event(index: number): T {
    const event = this.#decodeOne(index)
    return (this.#tagged ? { map: this.maps[this.#sources[index] as number], event } : event) as T
  }

  #onBatch(buffer: ArrayBuffer, count: number): void {
    if (buffer !== this.#bytes.buffer) {
      this.#bytes = new Uint8Array(buffer)
      this.#view = new DataView(buffer)
      this.#batch.bytes = this.#bytes
    }
    if (this.listenerCount('batch') > 0) {
      this.#batch.count = count
      this.emit('batch', this.#batch)
      this.#batch.count = 0
    }
    const listening = this.listenerCount('data') > 0
    if (!listening && this.#iterators === 0) return
    for (let i = 0; i < count && !this.#closed; i++) {
      const event = this.#event(i)
      if (listening) this.emit('data', event)
      if (this.#iterators > 0) this.#deliver(event)
    }
    if (this.#iterators > 0 && this.#queue.length >= this.#highWaterMark) this.#update()
  }

  #deliver(event: T): void {
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) waiter.resolve({ done: false, value: event })
    else this.#queue.push(event)
  }

  #abort(reason: unknown): void {
    if (this.#closed) return
    this.#error = reason ?? new DOMException('The operation was aborted', 'AbortError')
    this.close()
  }

  #fail(error: Error): void {
    this.#error = error
    this.#settle()
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  // Wakes iterators waiting for an event that will not come.
  #settle(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) {
      if (this.#error !== undefined) waiter.reject(this.#error)
      else waiter.resolve({ done: true, value: undefined })
    }
  }
}
