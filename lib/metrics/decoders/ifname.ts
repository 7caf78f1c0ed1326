// The ifname decoder: a network interface index → its name, in this process's network namespace.

import * as fs from 'node:fs'
import type { LabelDecoder } from './decoder'
import { RefreshingTable } from './decoder'

function interfaces(): Map<number, string> {
  const table = new Map<number, string>()
  for (const name of fs.readdirSync('/sys/class/net')) {
    try {
      table.set(Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')), name)
    } catch {
      // The interface went away while the list was read.
    }
  }
  return table
}

/** `1` → `lo`; indexes of no interface (any more) stay numbers. */
export function ifname(): LabelDecoder {
  const table = new RefreshingTable(interfaces)
  return (value) => table.get(Number(value)) ?? String(value)
}
