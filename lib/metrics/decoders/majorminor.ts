// The majorminor decoder: a kernel dev_t (major << 20 | minor, as block tracepoints give it) → the
// block device's name.

import * as fs from 'node:fs'
import type { LabelDecoder } from './decoder'
import { RefreshingTable } from './decoder'

function devices(): Map<string, string> {
  const table = new Map<string, string>()
  for (const id of fs.readdirSync('/sys/dev/block')) {
    try {
      const name = /^DEVNAME=(.*)$/m.exec(fs.readFileSync(`/sys/dev/block/${id}/uevent`, 'utf8'))?.[1]
      if (name !== undefined) table.set(id, name)
    } catch {
      // The device went away while the list was read.
    }
  }
  return table
}

/** `(7 << 20) | 3` → `loop3`; devices that do not exist (any more) become `major:minor`. */
export function majorminor(): LabelDecoder {
  const table = new RefreshingTable(devices)
  return (value) => {
    const dev = Number(value)
    const id = `${Math.floor(dev / 2 ** 20)}:${dev % 2 ** 20}`
    return table.get(id) ?? id
  }
}
