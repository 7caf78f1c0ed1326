// The inet decoder: an IPv4 or IPv6 address as the kernel stores it (network byte order) → its text.

import * as os from 'node:os'
import type { LabelDecoder } from './decoder'
import { bytesOf } from './decoder'

const LITTLE_ENDIAN = os.endianness() === 'LE'

/** The 8 groups of an IPv6 address, with the longest run of zero groups (two or more) as `::` (RFC 5952). */
function ipv6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!))
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.subarray(12).join('.')}`
  }
  let best = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) [best, bestLength] = [i, j - i]
    i = j === i ? i + 1 : j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`
}

/**
 * `__u8[4]`, a `__be32`/`__u32` holding the address in network order, `__u8[16]` or `__u32[4]` →
 * `10.0.0.1` or `2001:db8::1`.
 */
export function inet(): LabelDecoder {
  return (value) => {
    if (typeof value === 'number' || typeof value === 'bigint') {
      const n = Number(value) >>> 0
      // The field's bytes are the address: read back as a host-order integer, they come out swapped.
      const bytes = LITTLE_ENDIAN ? [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24] : [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
      return bytes.join('.')
    }
    const bytes = bytesOf(value)
    if (bytes?.length === 4) return bytes.join('.')
    if (bytes?.length === 16) return ipv6(bytes)
    return String(value)
  }
}
