// The installation's self-test: load the tiny object shipped in the package, attach it, see one event
// of this process through a ring buffer, detach, and say which addon did it.
import * as path from 'node:path'
import { BpfError, describe, invalidArgument, optionsOf } from './errors'
import { addonPath } from './native'
import { elfNeeds } from './elf'
import { BpfObject } from './object'
import { libbpfVersion } from './version'

export interface SelftestReport {
  /** The addon file that ran. */
  addon: string
  /** Where it came from: a prebuild shipped in the package, a build made on this machine, or BPFKIT_ADDON. */
  source: 'prebuild' | 'local build' | 'BPFKIT_ADDON'
  libbpf: string
  /** The newest glibc symbol version the addon needs (`2.31`): the oldest glibc it runs on. */
  glibc: string | undefined
  /** The shared libraries it needs at run time. */
  libraries: string[]
  /** The event the program sent for this process's getppid(). */
  event: { pid: number; comm: string }
  /** Each step with its time in milliseconds. */
  steps: Array<{ step: string; ms: number }>
}

const OBJECT = path.join(__dirname, '..', 'bpf', 'selftest.bpf.o')

/**
 * Runs the self-test (as root): open → load → attach a tracepoint on getppid() → one ring buffer
 * event from this process → close. Rejects with the BpfError of the step that failed.
 */
export async function selftest(given: { timeoutMs?: number } = {}): Promise<SelftestReport> {
  const options = optionsOf('selftest', given, { timeoutMs: true }) ?? {}
  const timeoutMs = options.timeoutMs ?? 5000
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 0x7fffffff) {
    throw invalidArgument('selftest', `timeoutMs must be a positive integer of milliseconds, got ${describe(timeoutMs)}`)
  }
  const steps: SelftestReport['steps'] = []
  const step = async <T>(name: string, run: () => T | Promise<T>): Promise<T> => {
    const start = performance.now()
    const result = await run()
    steps.push({ step: name, ms: Math.round((performance.now() - start) * 10) / 10 })
    return result
  }
  const obj = await step('open', () => BpfObject.open(OBJECT))
  try {
    obj.rodata.target_pid = process.pid
    await step('load', () => obj.load())
    const link = await step('attach', () => obj.program('selftest_getppid').attachTracepoint('syscalls', 'sys_enter_getppid'))
    const events = obj.ringBuffer('events', { signal: AbortSignal.timeout(timeoutMs) })
    const event = await step('event', async () => {
      void process.ppid // getppid(2): the tracepoint fires in this process
      try {
        for await (const e of events) return e as { pid: number; comm: string }
      } catch (error) {
        throw new BpfError(`selftest: no event from the tracepoint within ${timeoutMs} ms`, {
          code: 'ETIMEDOUT',
          op: 'selftest',
          hint: 'check `bpfkit doctor`: tracefs must be mounted and the syscalls tracepoints present',
          cause: error,
        })
      }
      throw new BpfError('selftest: the ring buffer closed before an event came', { code: 'EIO', op: 'selftest' })
    })
    await step('detach', () => link.close())
    const needs = elfNeeds(addonPath)
    const glibc = (needs.versions['libc.so.6'] ?? []).filter((v) => v.startsWith('GLIBC_2')).pop()?.slice('GLIBC_'.length)
    return {
      addon: addonPath,
      source: process.env.BPFKIT_ADDON ? 'BPFKIT_ADDON' : addonPath.split(path.sep).includes('prebuilds') ? 'prebuild' : 'local build',
      libbpf: libbpfVersion,
      glibc,
      libraries: needs.libraries,
      event: { pid: event.pid, comm: event.comm },
      steps,
    }
  } finally {
    obj.close()
  }
}
