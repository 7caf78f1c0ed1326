// Shared test helpers: fixture paths, kernel object checks, descriptor counts, waiting.
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Worker } from 'node:worker_threads'
import { expect } from 'vitest'
import { BpfError, BpfObject, elfFunctions, resolveBinary, type ElfSymbol } from 'bpfkit'

export const root = path.resolve(__dirname, '..')

/** The addon file the tests run: the local build, or the one BPFKIT_ADDON names. */
export const addonPath: string = (require(path.join(root, 'dist/native.js')) as { addonPath: string }).addonPath

/**
 * Where cgroup v2 is mounted; mounts it on a directory of its own first when nothing has (a fresh
 * root or a minimal VM), so cgroup tests run everywhere.
 */
export function cgroup2Mount(): string {
  const mounted = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((line) => line.split(' ')).find((f) => f[2] === 'cgroup2')
  if (mounted) return mounted[1]!
  const dir = fs.mkdtempSync('/tmp/bpfkit-cgroup2-')
  execFileSync('mount', ['-t', 'cgroup2', 'none', dir])
  return dir
}

export function fixture(name: string): string {
  return path.join(root, 'test/fixtures', name)
}

export function example(name: string): string {
  return path.join(root, 'examples', name)
}

export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length
}

/** BPF programs, maps and links this process holds open, from /proc/self/fdinfo. */
export function bpfFds(): { progs: number[]; links: number[]; maps: number[] } {
  const found = { progs: [] as number[], links: [] as number[], maps: [] as number[] }
  for (const fd of fs.readdirSync('/proc/self/fdinfo')) {
    let info: string
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
    } catch {
      continue
    }
    const link = /^link_id:\s+(\d+)/m.exec(info)
    const prog = /^prog_id:\s+(\d+)/m.exec(info)
    const map = /^map_id:\s+(\d+)/m.exec(info)
    if (link) found.links.push(Number(link[1]))
    else if (prog) found.progs.push(Number(prog[1]))
    else if (map) found.maps.push(Number(map[1]))
  }
  return found
}

/** Whether the kernel still has a program with this id (bpftool prog show id N). */
export function programExists(id: number): boolean {
  try {
    execFileSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * How much slower this machine is than a developer's: `BPFKIT_TEST_SCALE` (npm run test:kernels sets it
 * for qemu's emulation). Every bound a test waits against is multiplied by it.
 */
export const SCALE = Number(process.env.BPFKIT_TEST_SCALE) || 1

/** Waits until `condition` holds, failing after `timeoutMs` (× SCALE). */
export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs * SCALE
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export interface Ran {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs a command to its end without blocking the event loop (spawnSync would: under emulation a few
 * in a row outlast vitest's 60 s for its own messages). Failing after `timeoutMs` (× SCALE) kills it.
 */
export function run(command: string, args: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.timeoutMs ?? 60_000) * SCALE)
    child.on('error', reject)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stdout, stderr })
    })
  })
}

/** Runs a Node script (`node -e`) to its end without blocking the event loop. */
export function node(script: string, options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Ran> {
  return run(process.execPath, ['-e', script], options)
}

/** The sequence fixture: getegid() from this process emits `burst` numbered events into its ring buffers. */
export async function openSequence(): Promise<BpfObject> {
  const obj = BpfObject.open(fixture('sequence.bpf.o'))
  await obj.load()
  obj.attach()
  return obj
}

export function configureSequence(obj: BpfObject, burst: number, targets: 1 | 2 | 3 = 1): void {
  obj.map('settings').set(0, { pid: process.pid, burst, targets })
}

/** The fixture's own counters: the next sequence number, and the reservations that failed. */
export function sequenceCounters(obj: BpfObject): { next: bigint; dropped: bigint } {
  return obj.map('counters').get(0)
}

/** Makes the getegid() syscall the sequence fixture listens to (Node does not make it on its own). */
export function trigger(times = 1): void {
  for (let i = 0; i < times; i++) process.getegid?.()
}

/**
 * A steady producer for the sequence fixture: a worker thread (another CPU, the same process) that
 * calls getegid() for `ms` milliseconds; resolves to the number of calls (others in the process may
 * call it too: count events by the fixture's counters).
 */
export function produceFor(ms: number): Promise<number> {
  const source = `const { parentPort, workerData } = require('node:worker_threads')
let calls = 0
for (const end = Date.now() + workerData; Date.now() < end; calls++) process.getegid()
parentPort.postMessage(calls)`
  const worker = new Worker(source, { eval: true, workerData: ms })
  return new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
}

/** An event of the sequence fixture, as its BTF type decodes it. */
export interface SeqEvent {
  seq: bigint
  source: number
  cpu: number
}

/** The BpfError `fn` throws (failing the test when it throws something else or nothing). */
export function thrown(fn: () => unknown): BpfError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(BpfError)
    return error as BpfError
  }
  throw new Error('expected a BpfError')
}

/** The BpfError `promise` rejects with (failing the test when it rejects with something else or resolves). */
export async function rejected(promise: Promise<unknown>): Promise<BpfError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(BpfError)
    return error as BpfError
  }
  throw new Error('expected a BpfError')
}

/** A revoked proxy: any question asked of it throws. */
export function revoked(): never {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy as never
}

/** An object that throws whatever is asked of it: its properties, keys, prototype. */
export function hostile(): never {
  const fail = (): never => {
    throw new Error('hostile')
  }
  return new Proxy({}, { get: fail, has: fail, ownKeys: fail, getPrototypeOf: fail, getOwnPropertyDescriptor: fail }) as never
}

/**
 * libc's GNU indirect functions to try (glibc picks memcpy, strlen… for the CPU it runs on): the first,
 * and one whose name also has an older version that is a plain function (memcpy@GLIBC_2.2.5, which
 * libbpf would pick) where there is one. Empty on a libc without them.
 */
export function libcIndirectFunctions(): { libc: string; ifuncs: ElfSymbol[] } {
  const libc = resolveBinary('libc.so.6')
  const functions = elfFunctions(libc)
  const ifuncs = functions.filter((f) => f.ifunc)
  const shadowed = ifuncs.find((f) => functions.some((g) => g.name === f.name && !g.ifunc))
  return { libc, ifuncs: ifuncs.length === 0 ? [] : [ifuncs[0]!, ...(shadowed ? [shadowed] : [])] }
}
