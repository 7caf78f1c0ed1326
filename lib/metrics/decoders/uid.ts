// The uid decoder: a user id → the user's name, from /etc/passwd.

import * as fs from 'node:fs'
import type { LabelDecoder } from './decoder'
import { RefreshingTable } from './decoder'

function users(): Map<number, string> {
  const table = new Map<number, string>()
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid] = line.split(':')
    if (name && uid !== undefined && !table.has(Number(uid))) table.set(Number(uid), name)
  }
  return table
}

/** `0` → `root`; ids of no user stay numbers. */
export function uid(): LabelDecoder {
  const table = new RefreshingTable(users)
  return (value) => table.get(Number(value)) ?? String(value)
}
