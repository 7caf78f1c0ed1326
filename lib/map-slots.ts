// Slots: maps whose values are kernel objects handed over by file descriptor — programs in a prog_array
// (tail calls), maps in a map-in-map, sockets in a sockmap. Set with the object; read back as its id
// (a socket: its cookie).
import type * as dgram from 'node:dgram'
import type * as net from 'node:net'
import type { MapHandle } from './native'
import { BpfError, describe, invalidArgument, reading } from './errors'
import type { Codec } from './btf/codec'
import type { BpfMap } from './map'
import { BpfProgram } from './program'

/** What a slot takes: a loaded program, a map, or a socket (a Node socket, a listening server, or an fd). */
export type SlotValue = BpfProgram | BpfMap | net.Socket | net.Server | dgram.Socket | number

const KINDS: Record<string, 'program' | 'map' | 'socket'> = {
  prog_array: 'program', array_of_maps: 'map', hash_of_maps: 'map', sockmap: 'socket', sockhash: 'socket',
}

/** BPF_F_INNER_MAP: inner maps of any maxEntries. */
const BPF_F_INNER_MAP = 1 << 12

/** Whether maps of this type hold programs, maps or sockets. */
export function slotKind(type: string): 'program' | 'map' | 'socket' | undefined {
  return Object.hasOwn(KINDS, type) ? KINDS[type] : undefined
}

/** A Node socket's fd: net.Socket's and net.Server's `_handle`, dgram.Socket's state. */
function socketFd(socket: object): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol')
  const handle = state !== undefined ? (socket as Record<symbol, { handle?: { fd?: number } }>)[state]?.handle : (socket as { _handle?: { fd?: number } })._handle
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined
}

/** @internal get, set, delete and iteration of a slot map, by key. */
export class Slots {
  readonly #map: BpfMap
  readonly #handle: MapHandle
  readonly #kind: 'program' | 'map' | 'socket'
  readonly #key: Codec | undefined

  constructor(map: BpfMap, handle: MapHandle, kind: 'program' | 'map' | 'socket', keyCodec: Codec | undefined) {
    this.#map = map
    this.#handle = handle
    this.#kind = kind
    this.#key = keyCodec
  }

  encodeKey(op: string, key: unknown): Buffer {
    const bytes = Buffer.alloc(this.#map.keySize)
    if (this.#key !== undefined) {
      this.#key.encodeInto(key, bytes, 0, 'key')
    } else if (key instanceof Uint8Array && key.length === bytes.length) {
      bytes.set(key)
    } else if (bytes.length === 4 && typeof key === 'number' && Number.isInteger(key) && key >= 0 && key <= 0xffffffff) {
      bytes.writeUInt32LE(key)
    } else {
      throw invalidArgument(op, `key must be ${bytes.length === 4 ? 'an index (a 32-bit unsigned integer)' : `${bytes.length} bytes`}, got ${describe(key)}`)
    }
    return bytes
  }

  decodeKey(bytes: Buffer): unknown {
    if (this.#key !== undefined) return this.#key.decode(bytes, 0)
    return bytes.length === 4 ? bytes.readUInt32LE(0) : Buffer.from(bytes)
  }

  /** The id of the program or map in the slot (a socket's cookie), or undefined when it is empty. */
  decodeValue(bytes: Buffer): number | bigint {
    return bytes.length >= 8 ? bytes.readBigUInt64LE(0) : bytes.readUInt32LE(0)
  }

  get(key: unknown): number | bigint | undefined {
    const value = this.#handle.lookup(this.encodeKey('map.get', key))
    return value === undefined ? undefined : this.decodeValue(value)
  }

  set(key: unknown, value: unknown, flags: number): void {
    this.setMany([[key, value]], flags, 'map.set')
  }

  /** Sets each [key, object]: every key and object checked before anything is written. */
  setMany(entries: ReadonlyArray<unknown>, flags: number, op = 'map.setMany'): void {
    const slots = entries.map((entry, i) => {
      const pair = reading(op, `entry ${i}`, () => (Array.isArray(entry) && entry.length === 2 ? [entry[0], entry[1]] : undefined))
      if (pair === undefined) throw invalidArgument(op, `entry ${i} must be a [key, value] pair`)
      const [key, value] = pair as [unknown, unknown]
      const fd = this.#fdOf(op, value)
      const slot = Buffer.alloc(this.#map.valueSize)
      if (slot.length >= 8) slot.writeBigUInt64LE(BigInt(fd))
      else slot.writeUInt32LE(fd)
      return { key: this.encodeKey(op, key), slot, value }
    })
    for (const { key, slot, value } of slots) {
      try {
        this.#handle.update(key, slot, flags)
      } catch (error) {
        throw this.#refused(error, value)
      }
    }
  }

  /** Empties every slot: deleted key by key, with no lookup (a sockmap of 4-byte values refuses those). */
  clear(): void {
    const keys: Buffer[] = []
    for (let key = this.#handle.nextKey(null); key !== undefined; key = this.#handle.nextKey(key)) keys.push(key)
    for (const key of keys) {
      try {
        this.#handle.delete(key)
      } catch (error) {
        // An empty slot of a sockmap is EINVAL to delete, where other maps say ENOENT.
        if (!(this.#kind === 'socket' && error instanceof BpfError && error.code === 'EINVAL')) throw error
      }
    }
  }

  *entries(): IterableIterator<[unknown, number | bigint]> {
    for (let key = this.#handle.nextKey(null); key !== undefined; key = this.#handle.nextKey(key)) {
      // An array's empty slots have keys but no values.
      const value = this.#handle.lookup(key)
      if (value !== undefined) yield [this.decodeKey(key), this.decodeValue(value)]
    }
  }

  #fdOf(op: string, value: unknown): number {
    const name = this.#map.name
    const wrong = (what: string): BpfError => invalidArgument(op, `map '${name}' is a ${this.#map.type}: its values are ${what}, not ${describeValue(value)}`,
      this.#kind === 'program' ? 'a prog_array slot takes a loaded program (obj.program(name)); maps go in array_of_maps or hash_of_maps'
        : this.#kind === 'map' ? 'a map-in-map slot takes a map (an object\'s, BpfMap.create(), or openPinned); programs go in a prog_array'
          : 'a sockmap slot takes a socket: a listening net.Server, a connected net.Socket, a bound dgram.Socket, or its fd')
    if (this.#kind === 'program') {
      if (!(value instanceof BpfProgram)) throw wrong('BpfPrograms')
      return value.fd
    }
    if (this.#kind === 'map') {
      if (typeof value !== 'object' || value === null || typeof (value as BpfMap).innerDifferences !== 'function') throw wrong('BpfMaps')
      const inner = value as BpfMap
      const template = this.#map.innerMap
      if (template !== null) {
        const flexible = (template.flags & BPF_F_INNER_MAP) !== 0
        const differences = this.#map.innerDifferences(inner).filter((d) => !(flexible && d.startsWith('maxEntries')))
        if (differences.length > 0) {
          throw invalidArgument(op, `map '${inner.name}' cannot be an inner map of '${name}': ${differences.join('; ')}`,
            `the inner maps of '${name}' are like its __array(values, …) declaration (or innerMap): the same type, key and value sizes and flags${flexible ? '' : ', and maxEntries (BPF_F_INNER_MAP lifts that)'}`)
        }
      }
      return inner.fd
    }
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0x7fffffff) return value
    const fd = typeof value === 'object' && value !== null ? socketFd(value) : undefined
    if (fd === undefined) throw wrong('sockets')
    return fd
  }

  /** The kernel's refusal of a slot, with what it usually means. */
  #refused(error: unknown, value: unknown): unknown {
    if (!(error instanceof BpfError) || error.origin === 'argument' || (error.code !== 'EINVAL' && error.code !== 'EOPNOTSUPP')) return error
    const hint = this.#kind === 'program'
      ? `a prog_array holds programs of one type and attach type — those of the programs that tail-call through it; ${describeValue(value)} is not`
      : this.#kind === 'map'
        ? 'the kernel refused the inner map: it must match the template (type, key and value sizes, flags, maxEntries) and cannot itself hold maps'
        : 'a sockmap takes TCP sockets that are listening or established, and UDP sockets that are bound'
    return new BpfError(error.message.split('\n')[0]!, { code: error.code, errno: error.errno, op: error.op, origin: error.origin, cause: error, hint })
  }
}

function describeValue(value: unknown): string {
  if (value instanceof BpfProgram) return `program '${value.name}' (${value.type})`
  if (typeof value === 'object' && value !== null && 'differences' in value) return `map '${(value as BpfMap).name}' (${(value as BpfMap).type})`
  return describe(value)
}
