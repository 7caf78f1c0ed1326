// The ksym decoder: a kernel address → the kernel symbol it falls in, from /proc/kallsyms.

import * as fs from 'node:fs'
import type { LabelDecoder } from './decoder'

interface Symbols {
  addresses: BigUint64Array
  names: string[]
}

/** Text symbols sorted by address. Without CAP_SYSLOG the kernel shows every address as 0. */
function kallsyms(): Symbols {
  const found: Array<[bigint, string]> = []
  for (const line of fs.readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const [address, type, name] = line.split(/\s+/)
    if (name === undefined || !/^[tTwW]$/.test(type ?? '')) continue
    found.push([BigInt(`0x${address}`), name])
  }
  found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return { addresses: BigUint64Array.from(found.map((s) => s[0])), names: found.map((s) => s[1]) }
}

/**
 * `0xffffffff81234567n` → `do_sys_openat2`: the last symbol at or below the address. The table is read
 * when the decoder is made (so a daemon reads it before it drops CAP_SYSLOG); addresses below every
 * symbol stay hex.
 */
export function ksym(): LabelDecoder {
  const { addresses, names } = kallsyms()
  return (value) => {
    if (typeof value !== 'number' && typeof value !== 'bigint') return String(value)
    const address = BigInt.asUintN(64, BigInt(value))
    let lo = 0
    let hi = addresses.length - 1
    if (hi < 0 || address < addresses[0]! || addresses[hi] === 0n) return `0x${address.toString(16)}`
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (addresses[mid]! <= address) lo = mid
      else hi = mid - 1
    }
    return names[lo]!
  }
}
