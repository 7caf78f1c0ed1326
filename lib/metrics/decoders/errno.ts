// The errno decoder: an error number (positive, or negative as the kernel returns it) → its name.

import * as os from 'node:os'
import type { LabelDecoder } from './decoder'

let names: Map<number, string> | undefined

/** `2` or `-2` → `ENOENT`; 0 → `0`; numbers without a name stay numbers. */
export function errno(): LabelDecoder {
  names ??= new Map(Object.entries(os.constants.errno).reverse().map(([name, n]) => [n, name]))
  return (value) => {
    const n = Math.abs(Number(value))
    return names!.get(n) ?? String(value)
  }
}
