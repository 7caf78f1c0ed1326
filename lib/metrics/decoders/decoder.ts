// What a label decoder is: a small named function from a key field's value to a label value.

/**
 * Turns a key field's value — as the map's BTF decodes it (number, bigint, string, typed array) — or
 * the string the previous decoder of the chain made, into a label value. `null` leaves the whole map
 * entry out of the metric (a filter).
 */
export type LabelDecoder = (value: unknown) => string | null

/** Makes a decoder from its settings (`{ table }` for static, `{ match, replace }` for regexp). */
export type DecoderFactory = (options: Record<string, unknown>) => LabelDecoder

/** Bytes of a value that is an array of bytes or of wider integers (inet, string). */
export function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  }
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return Uint8Array.from(value)
  return undefined
}

/**
 * A table read from a file, read again when a value is missing from it (a new user, interface or
 * cgroup), at most once a second.
 */
export class RefreshingTable<K, V> {
  #table = new Map<K, V>()
  #readAt = 0

  constructor(private readonly read: () => Map<K, V>) {}

  get(key: K): V | undefined {
    let value = this.#table.get(key)
    if (value === undefined && Date.now() - this.#readAt >= 1000) {
      this.#readAt = Date.now()
      this.#table = this.read()
      value = this.#table.get(key)
    }
    return value
  }
}
