// The cgroup decoder: a cgroup v2 id (bpf_get_current_cgroup_id()) → the cgroup's path.

import * as fs from 'node:fs'
import * as path from 'node:path'
import type { LabelDecoder } from './decoder'
import { RefreshingTable } from './decoder'

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on most systems). */
function cgroupRoot(): string {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' '))
  return mounts.find((fields) => fields[2] === 'cgroup2')?.[1] ?? '/sys/fs/cgroup'
}

/** A cgroup v2 id is the inode number of its directory. */
function cgroups(root: string): Map<bigint, string> {
  const table = new Map<bigint, string>()
  const visit = (dir: string): void => {
    let entries: fs.Dirent[]
    try {
      table.set(fs.statSync(dir, { bigint: true }).ino, `/${path.relative(root, dir)}`)
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) if (entry.isDirectory()) visit(path.join(dir, entry.name))
  }
  visit(root)
  return table
}

/** `4321` → `/system.slice/ssh.service` (`/` for the root cgroup); ids of no cgroup stay numbers. */
export function cgroup(): LabelDecoder {
  const root = cgroupRoot()
  const table = new RefreshingTable(() => cgroups(root))
  return (value) => {
    if (typeof value !== 'number' && typeof value !== 'bigint') return String(value)
    return table.get(BigInt(value)) ?? String(value)
  }
}
