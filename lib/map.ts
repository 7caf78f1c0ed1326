// BpfMap: one map of an object: its definition and raw key/value access.
import type { MapHandle } from './native'
import { invalidArgument } from './errors'

/** Update flags, as in bpf_map_update_elem. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, LOCK: 4 } as const

function bytes(op: string, what: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgument(op, `${what} must be a Buffer or Uint8Array`)
  return value
}

/**
 * Raw access by bytes: every call checks the key and value sizes before the syscall. Per-CPU maps
 * take and return one 8-byte-aligned slot per possible CPU (`valueBytes`).
 */
export class RawMap {
  readonly #handle: MapHandle

  /** @internal */
  constructor(handle: MapHandle) {
    this.#handle = handle
  }

  /** The value bytes for `key`, or undefined when there is none. */
  lookup(key: Uint8Array, flags = 0): Buffer | undefined {
    return this.#handle.lookup(bytes('map.lookup', 'key', key), flags)
  }

  /** Creates or replaces `key`'s value (flags: UpdateFlags). */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.#handle.update(bytes('map.update', 'key', key), bytes('map.update', 'value', value), flags)
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: Uint8Array): boolean {
    return this.#handle.delete(bytes('map.delete', 'key', key))
  }

  /** The key after `key` (the first key for null), or undefined at the end. */
  nextKey(key: Uint8Array | null): Buffer | undefined {
    return this.#handle.nextKey(key === null ? null : bytes('map.nextKey', 'key', key))
  }

  /** Every key, in the kernel's order. */
  *keys(): IterableIterator<Buffer> {
    for (let key = this.nextKey(null); key !== undefined; key = this.nextKey(key)) yield key
  }
}

export class BpfMap {
  readonly #handle: MapHandle
  /** Byte-level access to the map's entries. */
  readonly raw: RawMap

  /** @internal Maps come from `BpfObject.maps`. */
  constructor(handle: MapHandle) {
    this.#handle = handle
    this.raw = new RawMap(handle)
  }

  /** @internal The native handle, for ring buffers over this map. */
  get handle(): MapHandle {
    return this.#handle
  }

  get name(): string {
    return this.#handle.name
  }

  /** libbpf's name of the map type, e.g. `hash`, `ringbuf`, `percpu_array`. */
  get type(): string {
    return this.#handle.type
  }

  get keySize(): number {
    return this.#handle.keySize
  }

  get valueSize(): number {
    return this.#handle.valueSize
  }

  /** Bytes of one value as lookups return it: valueSize, or one aligned slot per CPU for per-CPU maps. */
  get valueBytes(): number {
    return this.#handle.valueBytes
  }

  /** Capacity (for ring buffers: bytes). Settable before load. */
  get maxEntries(): number {
    return this.#handle.maxEntries
  }

  set maxEntries(value: number) {
    if (!Number.isInteger(value) || value <= 0 || value > 0xffffffff) {
      throw invalidArgument('map.maxEntries', 'maxEntries must be a positive 32-bit integer')
    }
    this.#handle.maxEntries = value
  }

  /** Whether libbpf made this map for a global data section (.rodata, .data, .bss…). */
  get isInternal(): boolean {
    return this.#handle.isInternal
  }

  get fd(): number {
    return this.#handle.fd
  }

  /** The kernel's id of the map (as bpftool map shows it). */
  get id(): number {
    return this.#handle.id
  }
}
