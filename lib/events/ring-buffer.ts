// RingBuffer: events from one or more BPF ring buffer maps as batches, 'data' events or an async iterator.
import { EventEmitter } from 'node:events'
import type { RingBufferHandle } from '../native'
import { BpfError, invalidArgument } from '../errors'

/** Turns one event's bytes into a value. `view` covers the whole batch: read from `offset`. */
export interface Decoder<T> {
  decode(view: DataView, offset: number, length: number): T
}

export interface RingBufferOptions<T> {
  /** Decodes each event; without one, each event is a Buffer copy of its bytes. */
  decoder?: Decoder<T>
  /** Most events handed over per drain, so a fast producer cannot starve the event loop (default 4096, at most 2^20). */
  batchEvents?: number
  /** Most bytes per drain (default 1 MiB, at most 256 MiB); larger records still arrive whole. */
  batchBytes?: number
  /** Events the async iterator may hold before reading pauses (default 65536); the kernel then keeps (or drops) the rest. */
  highWaterMark?: number
}

export interface RingBufferStats {
  /** Events drained from the kernel. */
  events: number
  /** Payload bytes drained. */
  bytes: number
  /** Drains that handed events to JS (one JS call each). */
  batches: number
}

const DEFAULTS = { batchEvents: 4096, batchBytes: 1 << 20, highWaterMark: 65536 }
// The native reader allocates its batch buffers up front from these.
const LIMITS = { batchEvents: 1 << 20, batchBytes: 1 << 28, highWaterMark: 0x7fffffff }

function positiveInteger(name: keyof typeof LIMITS, value: number | undefined): number {
  if (value === undefined) return DEFAULTS[name]
  if (!Number.isInteger(value) || value <= 0 || value > LIMITS[name]) {
    throw invalidArgument('ringBuffer', `${name} must be an integer from 1 to ${LIMITS[name]}`)
  }
  return value
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void
  reject(error: unknown): void
}

/**
 * Reads a BPF ring buffer. Created paused; it starts reading when a 'data' listener is added, an
 * iterator starts, or resume() is called. Events are drained on the JS thread, one JS call per batch.
 */
export class RingBuffer<T = Buffer> extends EventEmitter implements AsyncIterable<T>, Disposable {
  /** Names of the maps this reader reads. */
  readonly maps: readonly string[]
  readonly #handle: RingBufferHandle
  readonly #decoder: Decoder<T> | undefined
  readonly #highWaterMark: number
  readonly #offsets: Uint32Array
  readonly #lengths: Uint32Array
  #buffer: ArrayBuffer | undefined
  #view: DataView | undefined
  #onClose: (() => void) | undefined
  #closed = false
  #paused = false
  #flowing = false
  #queue: T[] = []
  #waiters: Waiter<T>[] = []
  #iterators = 0
  #error: unknown

  /** @internal Ring buffers come from `BpfObject.ringBuffer()`. */
  constructor(handle: RingBufferHandle, maps: readonly string[], options: RingBufferOptions<T>, onClose?: () => void) {
    super()
    this.maps = maps
    this.#handle = handle
    this.#decoder = options.decoder
    this.#highWaterMark = positiveInteger('highWaterMark', options.highWaterMark)
    this.#offsets = handle.offsets
    this.#lengths = handle.lengths
    this.#onClose = onClose
    handle.onbatch = (buffer, count) => this.#onBatch(buffer, count)
    handle.onerror = (error) => this.#fail(error)
    this.on('newListener', (event) => {
      if (event === 'data') queueMicrotask(() => this.#update())
    })
  }

  /** @internal Validates options and fills in defaults for the native reader. */
  static nativeOptions(options: RingBufferOptions<unknown>): { batchEvents: number; batchBytes: number } {
    if (options.decoder !== undefined && typeof options.decoder?.decode !== 'function') {
      throw invalidArgument('ringBuffer', 'decoder must have a decode(view, offset, length) method')
    }
    return {
      batchEvents: positiveInteger('batchEvents', options.batchEvents),
      batchBytes: positiveInteger('batchBytes', options.batchBytes),
    }
  }

  get closed(): boolean {
    return this.#closed
  }

  get paused(): boolean {
    return this.#paused
  }

  /** Stops reading: events wait in the kernel's ring (which drops new ones once full). */
  pause(): this {
    this.#ensureOpen('pause')
    this.#paused = true
    this.#update()
    return this
  }

  /** Reads again after pause(). */
  resume(): this {
    this.#ensureOpen('resume')
    this.#paused = false
    this.#flowing = true
    this.#update()
    return this
  }

  stats(): RingBufferStats {
    return this.#handle.stats()
  }

  /** Stops reading and frees the reader; iterators finish after the events they already hold. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#handle.close()
    this.#handle.onbatch = undefined
    this.#handle.onerror = undefined
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
    if (this.#closed) throw new BpfError(`ringBuffer.${method}: the ring buffer is closed`, { code: 'ECLOSED', op: `ringBuffer.${method}` })
  }

  #wanted(): boolean {
    if (this.#closed || this.#paused) return false
    if (this.#iterators > 0) return this.#queue.length < this.#highWaterMark
    return this.#flowing || this.listenerCount('data') > 0
  }

  #update(): void {
    if (this.#closed) return
    if (this.#wanted()) this.#handle.resume()
    else this.#handle.pause()
  }

  #event(view: DataView, index: number): T {
    const offset = this.#offsets[index]
    const length = this.#lengths[index]
    if (this.#decoder !== undefined) return this.#decoder.decode(view, offset, length)
    return Buffer.from(new Uint8Array(view.buffer, offset, length)) as T
  }

  #onBatch(buffer: ArrayBuffer, count: number): void {
    if (buffer !== this.#buffer) {
      this.#buffer = buffer
      this.#view = new DataView(buffer)
    }
    const view = this.#view as DataView
    const listening = this.listenerCount('data') > 0
    for (let i = 0; i < count && !this.#closed; i++) {
      const event = this.#event(view, i)
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

export function ensureRingBufferMap(type: string, name: string): void {
  if (type !== 'ringbuf') {
    throw new BpfError(`ringBuffer: map '${name}' is a ${type} map, not a ringbuf`, { code: 'EINVAL', op: 'ring_buffer__new' })
  }
}
