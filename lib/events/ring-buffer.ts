// RingBuffer: events from one or more BPF ring buffer maps, with the wakeup policy and drop count
// of bpfkit.bpf.h.
import type { RingBufferHandle } from '../native'
import type { BpfMap } from '../map'
import { BpfError, describe, invalidArgument, reading } from '../errors'
import { EventReader, type ReaderOptions } from './reader'
import type { RecordType } from './decode'

/**
 * The threshold wakeup policy (needs the program to submit with bpfkit.bpf.h): the kernel wakes the
 * reader only once `bytes` wait in the ring, and the reader drains at least every `maxLatencyMs`.
 * Far fewer wakeups at high rates; no event waits longer than `maxLatencyMs`.
 */
export interface WakeupPolicy {
  bytes: number
  maxLatencyMs: number
}

export interface RingBufferOptions<T> extends ReaderOptions<T> {
  /** The wakeup policy (default: the kernel's, a wakeup whenever the reader has caught up). */
  wakeup?: WakeupPolicy | undefined
}

export interface RingBufferStats {
  /** Events drained from the kernel. */
  events: number
  /** Payload bytes drained. */
  bytes: number
  /** Drains that handed events to JS (one JS call each). */
  batches: number
  /**
   * Events the BPF side could not reserve or output because the ring was full since this reader
   * opened, counted exactly by bpfkit.bpf.h; undefined when the program does not use it (the kernel
   * itself does not count).
   */
  dropped: number | undefined
}

/** @internal The maps of bpfkit.bpf.h that go with the object's ring buffers (64-bit values either way). */
export interface RingCompanions {
  config: BpfMap<number, { wakeup_bytes: bigint | number }> | undefined
  dropped: BpfMap<number, Array<bigint | number>> | undefined
}

/**
 * Reads BPF ring buffers. Created paused; reading starts with a 'data' or 'batch' listener, an
 * iterator, `stream()` or resume(). See EventReader for the surfaces.
 */
export class RingBuffer<T = any> extends EventReader<T> {
  readonly #handle: RingBufferHandle
  readonly #rings: readonly BpfMap[]
  readonly #companions: RingCompanions
  #wakeup: WakeupPolicy | undefined
  #dropped: number | undefined
  /** What the companion map had counted when this reader opened. */
  #droppedBefore = 0

  /** @internal Ring buffers come from `BpfObject.ringBuffer()`. */
  constructor(handle: RingBufferHandle, rings: readonly BpfMap[], types: readonly RecordType[],
    options: RingBufferOptions<unknown>, companions: RingCompanions, onClose?: () => void) {
    super('ringBuffer', handle, rings.map((r) => r.name), types, rings.length > 1 ? 'map' : 'none', options, onClose)
    this.#handle = handle
    this.#rings = rings
    this.#companions = companions
    // The companion map counts for the object's whole life: this reader's drops are those after now.
    if (companions.dropped !== undefined) {
      this.#droppedBefore = this.#droppedTotal() ?? 0
      this.#dropped = 0
    }
    if (options.wakeup !== undefined) this.wakeup = options.wakeup
  }

  /** The wakeup policy in force; undefined for the kernel's default. Settable at any time. */
  get wakeup(): WakeupPolicy | undefined {
    return this.#wakeup
  }

  set wakeup(given: WakeupPolicy | undefined) {
    const op = 'ringBuffer.wakeup'
    if (this.closed) throw new BpfError(`${op}: the reader is closed`, { code: 'ECLOSED', op })
    let policy: WakeupPolicy | undefined
    if (given !== undefined) {
      if (given === null || typeof given !== 'object') throw invalidArgument(op, 'expected { bytes, maxLatencyMs } or undefined')
      // Read once: the values checked are the values used.
      policy = reading(op, 'the policy', () => ({ bytes: given.bytes, maxLatencyMs: given.maxLatencyMs }))
      const smallest = Math.min(...this.#rings.map((r) => r.maxEntries))
      if (!Number.isInteger(policy.bytes) || policy.bytes <= 0 || policy.bytes > smallest) {
        throw invalidArgument(op, `bytes must be an integer from 1 to the ring's size (${smallest})`)
      }
      if (!Number.isInteger(policy.maxLatencyMs) || policy.maxLatencyMs <= 0 || policy.maxLatencyMs > 60_000) {
        throw invalidArgument(op, 'maxLatencyMs must be an integer from 1 to 60000')
      }
    }
    const config = this.#companions.config
    if (policy !== undefined && config === undefined) {
      throw new BpfError(`${op}: the program does not submit through bpfkit.bpf.h, so it cannot hold back wakeups`, {
        code: 'EOPNOTSUPP',
        op,
        hint: 'declare the ring with BPFKIT_RINGBUF and submit with bpfkit_ringbuf_submit/bpfkit_ringbuf_output',
      })
    }
    for (const ring of this.#rings) {
      if (policy === undefined) config?.delete(ring.id)
      else config?.set(ring.id, { wakeup_bytes: BigInt(policy.bytes) })
    }
    this.#handle.setLatency(policy?.maxLatencyMs ?? 0)
    this.#wakeup = policy
  }

  /** The rings' capacity in bytes (each ring's maxEntries, summed over the reader's rings). */
  get size(): number {
    return this.#rings.reduce((sum, ring) => sum + ring.maxEntries, 0)
  }

  /**
   * Bytes waiting in the rings that the reader has not drained yet, record headers (8 bytes each) and
   * padding included: all of the reader's rings, or the one named. Records reserved but not yet
   * submitted count too, as libbpf's ring__avail_data_size() counts them.
   */
  availableBytes(ring?: string): number {
    const op = 'ringBuffer.availableBytes'
    if (this.closed) throw new BpfError(`${op}: the reader is closed`, { code: 'ECLOSED', op })
    if (ring === undefined) return this.#rings.reduce((sum, _, index) => sum + this.#handle.availableBytes(index), 0)
    const index = this.#rings.findIndex((r) => r.name === ring)
    if (index < 0) {
      throw invalidArgument(op, `${describe(ring)} is not one of the reader's rings (${this.#rings.map((r) => r.name).join(', ')})`)
    }
    return this.#handle.availableBytes(index)
  }

  stats(): RingBufferStats {
    const { events, bytes, batches } = this.#handle.stats()
    const total = this.#droppedTotal()
    // Undefined once the object is closed: the last count read stands.
    if (total !== undefined) this.#dropped = total - this.#droppedBefore
    return { events, bytes, batches, dropped: this.#dropped }
  }

  /** What BPFKIT_RINGBUF's companion map counts as dropped in this reader's rings since load. */
  #droppedTotal(): number | undefined {
    const counts = this.#companions.dropped
    if (counts === undefined) return undefined
    try {
      let dropped = 0
      for (const ring of this.#rings) {
        for (const perCpu of counts.get(ring.id) ?? []) dropped += Number(perCpu)
      }
      return dropped
    } catch (error) {
      if (!(error instanceof BpfError && error.code === 'ECLOSED')) throw error
      return undefined
    }
  }
}

export function ensureRingBufferMap(type: string, name: string): void {
  if (type !== 'ringbuf') {
    throw new BpfError(`ringBuffer: map '${name}' is a ${type} map, not a ringbuf`, { code: 'EINVAL', op: 'ring_buffer__new' })
  }
}
