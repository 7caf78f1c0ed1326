// `bpfkit ps`: the BPF programs, maps and links loaded in the kernel, system-wide, with the processes
// that hold them (as `bpftool prog/map/link list` shows them).
import * as fs from 'node:fs'
import type { Command } from 'commander'
import { BpfError } from '../errors'
import { BpfProgram, type ProgramInfo } from '../program'
import { BpfMap, type MapInfo } from '../map'
import { Link, type LinkInfo } from '../link'
import { endOnClosedOutput, fail } from './fail'

/** A process holding a BPF object through one of its file descriptors. */
export interface Holder {
  pid: number
  comm: string
}

export interface Listing {
  programs: Array<ProgramInfo & { loadedAt: string; pids: Holder[] }>
  maps: Array<MapInfo & { pids: Holder[] }>
  links: Array<LinkInfo & { pids: Holder[] }>
}

type Kind = 'prog' | 'map' | 'link'

/** Which processes hold which programs, maps and links: their fds' /proc/PID/fdinfo (`prog_id:`…). */
function holders(): Map<string, Holder[]> {
  const held = new Map<string, Holder[]>()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    let fds: string[]
    let comm: string
    try {
      fds = fs.readdirSync(`/proc/${pid}/fdinfo`)
      comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
    } catch {
      continue // gone, or not ours to read
    }
    for (const fd of fds) {
      let info: string
      try {
        info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      } catch {
        continue
      }
      const found = /^(link|prog|map)_id:\s+(\d+)/m.exec(info)
      if (found === null) continue
      // A link's fdinfo names its program too: the link is what the fd holds.
      const kind = (/^link_id:/m.test(info) ? 'link' : found[1]) as Kind
      const id = kind === 'link' ? /^link_id:\s+(\d+)/m.exec(info)![1] : found[2]
      const key = `${kind} ${id}`
      const list = held.get(key) ?? []
      if (!list.some((h) => h.pid === pid)) list.push({ pid, comm })
      held.set(key, list)
    }
  }
  return held
}

/** Nanoseconds since boot (a program's loadTime) as a wall-clock ISO time. */
function wallClock(bootNs: bigint): string {
  const uptime = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0])
  const bootedAt = Date.now() - uptime * 1000
  return new Date(bootedAt + Number(bootNs / 1_000_000n)).toISOString()
}

/** Everything loaded now, with who holds it; `pid` keeps what that process holds. */
export function listAll(pid?: number): Listing {
  const held = holders()
  const of = (kind: Kind, id: number): Holder[] => held.get(`${kind} ${id}`) ?? []
  const keep = <T extends { pids: Holder[] }>(items: T[]): T[] => pid === undefined ? items : items.filter((item) => item.pids.some((h) => h.pid === pid))
  return {
    programs: keep(BpfProgram.list().map((p) => ({ ...p, loadedAt: wallClock(p.loadTime), pids: of('prog', p.id) }))),
    maps: keep(BpfMap.list().map((m) => ({ ...m, pids: of('map', m.id) }))),
    links: keep(Link.list().map((l) => ({ ...l, pids: of('link', l.id) }))),
  }
}

/** What a link is attached to, in one phrase. */
function linkTarget(link: LinkInfo): string {
  const parts: string[] = []
  if (link.name !== undefined) parts.push(link.name)
  if (link.attachType !== undefined) parts.push(link.attachType)
  if (link.ifindex !== undefined) parts.push(`ifindex ${link.ifindex}`)
  if (link.cgroupId !== undefined) parts.push(`cgroup ${link.cgroupId}`)
  if (link.netnsIno !== undefined) parts.push(`netns ${link.netnsIno}`)
  if (link.mapId !== undefined) parts.push(`map ${link.mapId}`)
  if (link.targetObjectId) parts.push(`target ${link.targetObjectId}:${link.targetBtfId}`)
  if (link.count !== undefined) parts.push(`${link.count} functions`)
  if (link.pid !== undefined) parts.push(`pid ${link.pid}`)
  return parts.join(', ')
}

function table(title: string, header: string[], rows: string[][]): string[] {
  if (rows.length === 0) return [`${title}: none`]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [`${title} (${rows.length})`, line(header), ...rows.map(line)]
}

const who = (pids: Holder[]): string => pids.map((h) => `${h.comm}(${h.pid})`).join(', ')

export function addPsCommand(program: Command): void {
  program
    .command('ps')
    .description('list the BPF programs, maps and links loaded in the kernel, and the processes holding them (as bpftool prog/map/link list)')
    .option('--json', 'print them as JSON')
    .option('--pid <pid>', 'only what this process holds', (value: string) => {
      if (!/^\d+$/.test(value)) fail('ps', `--pid takes a process id, not '${value}'`)
      return Number(value)
    })
    .action((flags: { json?: boolean; pid?: number }) => {
      endOnClosedOutput('ps')
      let listing: Listing
      if (flags.pid !== undefined && !fs.existsSync(`/proc/${flags.pid}`)) fail('ps', `no process ${flags.pid}`)
      try {
        listing = listAll(flags.pid)
      } catch (error) {
        fail('ps', error instanceof BpfError ? error : String(error))
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(listing, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`)
        return
      }
      const lines = [
        ...table('programs', ['ID', 'TYPE', 'NAME', 'TAG', 'LOADED', 'INSNS', 'MAPS', 'PIDS'], listing.programs.map((p) => [
          String(p.id), p.type, p.name, p.tag, p.loadedAt.slice(0, 19).replace('T', ' '), String(p.instructions), p.mapIds.join(','), who(p.pids),
        ])),
        '',
        ...table('maps', ['ID', 'TYPE', 'NAME', 'KEY', 'VALUE', 'MAX', 'FLAGS', 'PIDS'], listing.maps.map((m) => [
          String(m.id), m.type, m.name, String(m.keySize), String(m.valueSize), String(m.maxEntries), `0x${m.flags.toString(16)}`, who(m.pids),
        ])),
        '',
        ...table('links', ['ID', 'TYPE', 'PROG', 'TARGET', 'PIDS'], listing.links.map((l) => [
          String(l.id), l.type, String(l.programId), linkTarget(l), who(l.pids),
        ])),
      ]
      process.stdout.write(`${lines.join('\n')}\n`)
    })
}
