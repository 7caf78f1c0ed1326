// Capabilities: reading the process's capability sets, and dropping all but a few in every thread
// (native/capabilities.cc), as a tracing daemon does once its programs are attached.
import * as fs from 'node:fs'
import { addon } from './native'
import { BpfError, MAX_PID, describe, invalidArgument, reading, systemError } from './errors'

/** Linux's capabilities, by number (capability(7)). */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const

export type Capability = (typeof CAPABILITIES)[number]

/** A thread's capability sets, as /proc/<pid>/task/<tid>/status shows them. */
export interface CapabilitySets {
  effective: Capability[]
  permitted: Capability[]
  inheritable: Capability[]
  bounding: Capability[]
  ambient: Capability[]
}

const FIELDS = { effective: 'CapEff', permitted: 'CapPrm', inheritable: 'CapInh', bounding: 'CapBnd', ambient: 'CapAmb' } as const

function names(mask: bigint): Capability[] {
  return CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n)
}

/** Parses the Cap* lines of a /proc status file. */
export function parseCapabilities(status: string): CapabilitySets {
  const sets = {} as CapabilitySets
  for (const [set, field] of Object.entries(FIELDS) as Array<[keyof CapabilitySets, string]>) {
    const hex = new RegExp(`^${field}:\\s+([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'
    sets[set] = names(BigInt(`0x${hex}`))
  }
  return sets
}

/** The capability sets of thread `tid` of process `pid` (default: this process's main thread). */
export function capabilities(pid: number | 'self' = 'self', tid?: number): CapabilitySets {
  const op = 'capabilities'
  const id = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_PID
  if (pid !== 'self' && !id(pid)) throw invalidArgument(op, `pid must be a process id or 'self', got ${describe(pid)}`)
  if (tid !== undefined && !id(tid)) throw invalidArgument(op, `tid must be a thread id, got ${describe(tid)}`)
  const file = tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`
  let status: string
  try {
    status = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw systemError(op, `cannot read ${file}`, error,
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${tid === undefined ? `process ${pid}` : `thread ${tid} in process ${pid}`}` : undefined)
  }
  return parseCapabilities(status)
}

/** What dropCapabilities() left: the main thread's sets, and the threads it could not reach. */
export interface DroppedCapabilities extends CapabilitySets {
  /** Threads of the process when it dropped them. */
  threads: number
  /**
   * Threads that block every signal, which no other thread can make change their capabilities: in
   * Node, the SIGUSR1 watcher (it only wakes the main thread to start the inspector; it runs no
   * JavaScript and opens no file).
   */
  unreachable: number[]
}

/**
 * Keeps only the capabilities in `keep` in every thread of the process: effective, permitted,
 * inheritable and ambient sets, and the bounding set when the process may change it (CAP_SETPCAP).
 * Then reads every thread's status back and throws EPERM if any it reached still holds more.
 * Irreversible. A daemon calls it once its programs are attached: reading maps needs only CAP_BPF.
 */
export function dropCapabilities(given: readonly Capability[]): DroppedCapabilities {
  const op = 'dropCapabilities'
  const keep = reading(op, 'the capabilities', () => (Array.isArray(given) ? [...given] : undefined))
  if (keep === undefined) throw invalidArgument(op, 'expected the capabilities to keep, e.g. ["CAP_BPF", "CAP_PERFMON"]')
  const numbers = keep.map((name) => {
    const bit = CAPABILITIES.indexOf(name)
    if (bit < 0) throw invalidArgument(op, `unknown capability ${String(name)} (known: ${CAPABILITIES.join(', ')})`)
    return bit
  })
  const result = addon.dropCapabilities(numbers)
  const wanted = new Set<string>(keep)
  const extra: string[] = []
  for (const tid of fs.readdirSync('/proc/self/task')) {
    if (result.unreachable.includes(Number(tid))) continue
    let sets: CapabilitySets
    try {
      sets = capabilities('self', Number(tid))
    } catch {
      continue // the thread has exited
    }
    const kept = [...sets.effective, ...sets.permitted].filter((cap) => !wanted.has(cap))
    if (kept.length > 0) extra.push(`thread ${tid} still has ${[...new Set(kept)].join(', ')}`)
  }
  if (extra.length > 0 || result.failed.length > 0) {
    const failures = result.failed.map((f) => `thread ${f.tid}: capset failed (errno ${f.errno})`)
    const unanswered = result.unanswered.length > 0 ? [`threads ${result.unanswered.join(', ')} did not answer (signal blocked)`] : []
    throw new BpfError(`${op}: ${[...failures, ...unanswered, ...extra].join('; ')}`, { code: 'EPERM', op })
  }
  return { ...capabilities(), threads: result.threads, unreachable: result.unreachable }
}
