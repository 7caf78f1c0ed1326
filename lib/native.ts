// Loads the addon (a prebuild or the local build) and describes what it exports.
import * as path from 'node:path'
import nodeGypBuild = require('node-gyp-build')
import { BpfError, VerifierError } from './errors'
import type { BtfType } from './btf/types'

export interface NativeObjectOptions {
  objectName?: string
  btfCustomPath?: string
  kernelLogLevel?: number
  logLevel?: number
  logger?: (level: number, message: string) => void
}

export interface ObjectHandle {
  readonly name: string
  readonly state: 'opened' | 'loading' | 'loaded' | 'failed' | 'closed'
  programs(): ProgramHandle[]
  maps(): MapHandle[]
  btf(): BtfHandle | null
  load(): Promise<void>
  close(): void
}

export interface ProgramHandle {
  readonly name: string
  readonly section: string
  readonly type: string
  autoload: boolean
  readonly fd: number
  readonly id: number
  attach(): LinkHandle
  attachTracepoint(category: string, name: string): LinkHandle
  testRun(data: Uint8Array | null, ctx: Uint8Array | null, repeat: number, dataOutSize: number, ctxOutSize: number): TestRunResult
}

export interface MapHandle {
  readonly name: string
  readonly type: string
  readonly keySize: number
  readonly valueSize: number
  readonly valueBytes: number
  maxEntries: number
  readonly mapFlags: number
  readonly isInternal: boolean
  readonly btfKeyTypeId: number
  readonly btfValueTypeId: number
  readonly btfId: number
  readonly fd: number
  readonly id: number
  readonly pinPath: string | null
  lookup(key: Uint8Array | null, flags?: number): Buffer | undefined
  lookup(key: Uint8Array | null, flags: number, out: Uint8Array): boolean
  lookupAndDelete(key: Uint8Array | null, flags?: number): Buffer | undefined
  update(key: Uint8Array | null, value: Uint8Array, flags?: number): void
  delete(key: Uint8Array): boolean
  nextKey(key: Uint8Array | null): Buffer | undefined
  lookupBatch(inToken: Uint8Array | null, outToken: Uint8Array, keys: Uint8Array, values: Uint8Array, count: number,
    andDelete?: boolean): { count: number; done: boolean } | null
  updateBatch(keys: Uint8Array, values: Uint8Array, count: number, flags?: number): true | null
  deleteBatch(keys: Uint8Array, count: number): { count: number; missing: boolean } | null
  freeze(): void
  pin(path: string): void
  unpin(): void
  readGlobal(offset: number, target: Uint8Array): void
  writeGlobal(offset: number, source: Uint8Array): void
  close(): void
}

export interface BtfHandle {
  readonly count: number
  types(first: number, end: number): BtfType[]
  find(name: string, kind?: number): number
  dumpC(): string
  rawData(): Buffer
  add(other: BtfHandle): number
  close(): void
}

export interface TestRunResult {
  retval: number
  duration: number
  data: Buffer | null
  ctx: Buffer | null
}

export interface LinkHandle {
  readonly fd: number
  readonly pinPath: string | null
  pin(path: string): void
  unpin(): void
  destroy(): void
}

/** What the ring buffer and perf buffer readers have in common (native/reader.cc). */
export interface EventReaderHandle {
  onbatch?: (buffer: ArrayBuffer, count: number) => void
  onerror?: (error: Error) => void
  readonly views: { buffer: ArrayBuffer; offsets: Uint32Array; lengths: Uint32Array; sources: Uint16Array }
  resume(): void
  pause(): void
  setLatency(ms: number): void
  close(): void
  stats(): { events: number; bytes: number; batches: number }
}

export type RingBufferHandle = EventReaderHandle

export interface PerfBufferHandle extends EventReaderHandle {
  stats(): { events: number; bytes: number; batches: number; lost: number[] }
}

export interface Addon {
  BpfObject: new (source: string | Uint8Array, options: NativeObjectOptions) => ObjectHandle
  BpfMap: new (source: { pinned: string }) => MapHandle
  Btf: new (source: { path: string } | { vmlinux: true } | { id: number } | { empty: true }) => BtfHandle
  RingBuffer: new (maps: MapHandle[], options: { batchEvents: number; batchBytes: number }) => RingBufferHandle
  PerfBuffer: new (map: MapHandle, options: { pages: number; batchEvents: number; batchBytes: number }) => PerfBufferHandle
  readonly libbpfVersion: string
  readonly sourceHash: string
  /** libbpf_num_possible_cpus(): the slots of a per-CPU map value. */
  readonly possibleCpus: number
  setErrorClasses(bpfError: typeof BpfError, verifierError: typeof VerifierError): void
  setLogger(logger: ((level: number, message: string) => void) | null, level: number): void
  liveResources(): number
  /** libbpf's probes of the running kernel. */
  probe(): { programTypes: Record<string, boolean>; mapTypes: Record<string, boolean>; helpers: Record<string, boolean> }
}

// BPFKIT_ADDON names another build of the addon (e.g. the AddressSanitizer one from CMake).
export const addon: Addon = (
  process.env.BPFKIT_ADDON ? require(path.resolve(process.env.BPFKIT_ADDON)) : nodeGypBuild(path.join(__dirname, '..'))
) as Addon
addon.setErrorClasses(BpfError, VerifierError)
