// PerfBuffer: events from a BPF_MAP_TYPE_PERF_EVENT_ARRAY (one ring per CPU), each with its CPU, and
// lost samples counted per CPU.
import type { PerfBufferHandle } from '../native'
import type { BpfMap } from '../map'
import { BpfError, invalidArgument } from '../errors'
import { EventReader, type ReaderOptions } from './reader'
import type { RecordType } from './decode'

export interface PerfBufferOptions<T> extends ReaderOptions<T> {
  /** Size of each CPU's ring in pages, a power of 2 (default 64). */
  pages?: number | undefined
  /** Each event as `{ cpu, event }`: the CPU whose ring it came from (batch.cpu(i) has it too). */
  withCpu?: boolean | undefined
}

export interface PerfBufferStats {
  /** Events drained from the kernel. */
  events: number
  /** Payload bytes drained. */
  bytes: number
  /** Drains that handed events to JS (one JS call each). */
  batches: number
  /** Samples the kernel lost because a CPU's ring was full, per possible CPU. */
  lost: number[]
  /** All lost samples. */
  lostTotal: number
}

/** @internal Checks the options only perf buffers take; gives `pages`. */
export function perfOptions(options: PerfBufferOptions<unknown>): number {
  if (options.withCpu !== undefined && typeof options.withCpu !== 'boolean') {
    throw invalidArgument('perfBuffer', 'withCpu must be a boolean')
  }
  return perfPages(options.pages)
}

/** Checks `pages`. */
function perfPages(pages: number | undefined): number {
  if (pages === undefined) return 64
  if (!Number.isInteger(pages) || pages <= 0 || pages > 1 << 16 || (pages & (pages - 1)) !== 0) {
    throw invalidArgument('perfBuffer', 'pages must be a power of 2 from 1 to 65536')
  }
  return pages
}

/**
 * Reads a BPF perf event array (what `bpf_perf_event_output` writes). Created paused; reading starts
 * with a 'data' or 'batch' listener, an iterator, `stream()` or resume(). See EventReader.
 */
export class PerfBuffer<T = any> extends EventReader<T> {
  readonly #handle: PerfBufferHandle

  /** @internal Perf buffers come from `BpfObject.perfBuffer()`. */
  constructor(handle: PerfBufferHandle, map: BpfMap, type: RecordType, options: PerfBufferOptions<unknown>,
    onClose?: () => void) {
    super('perfBuffer', handle, [map.name], [type], options.withCpu === true ? 'cpu' : 'none', options, onClose)
    this.#handle = handle
  }

  stats(): PerfBufferStats {
    const stats = this.#handle.stats()
    return { ...stats, lostTotal: stats.lost.reduce((a, b) => a + b, 0) }
  }
}

export function ensurePerfEventArray(type: string, name: string): void {
  if (type !== 'perf_event_array') {
    throw new BpfError(`perfBuffer: map '${name}' is a ${type} map, not a perf_event_array`, { code: 'EINVAL', op: 'perf_buffer__new' })
  }
}
