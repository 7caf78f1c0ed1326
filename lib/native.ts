// Loads the addon (a prebuild or the local build) and describes what it exports.
import * as path from 'node:path'
import nodeGypBuild = require('node-gyp-build')
import { BpfError } from './errors'
import type { BtfType } from './btf/types'
import type { ProgramInfo } from './program'
import type { LinkInfo } from './link'
import type { MapDefinition, MapInfo } from './map'

export interface NativeObjectOptions {
  objectName?: string
  btfCustomPath?: string
  /** BTF for libbpf to relocate against, handed over in a memfd (extraBtf's merge). */
  customBtf?: Uint8Array
  /** The largest object file the addon reads. */
  objectBytes?: number
  pinRoot?: string
  kernelLogLevel?: number
  logLevel?: number
  logger?: (level: number, message: string) => void
}

export interface ObjectHandle {
  readonly name: string
  readonly state: 'opened' | 'loading' | 'loaded' | 'failed' | 'closed'
  /** Whether libbpf's messages are being handed to a logger (in the middle of a call on the object). */
  readonly delivering: boolean
  programs(): ProgramHandle[]
  maps(): MapHandle[]
  btf(): BtfHandle | null
  load(): Promise<void>
  close(): void
}

export interface ProgramHandle {
  readonly name: string
  readonly section: string
  type: string
  expectedAttachType: string
  flags: number
  logLevel: number
  readonly verifierLog: string | null
  autoload: boolean
  readonly fd: number
  readonly pinPath: string | null
  pin(path: string): void
  unpin(): void
  setAttachTarget(functionName: string | null, target?: ProgramHandle | number): void
  close(): void
  attach(): LinkHandle
  attachTracepoint(category: string, name: string): LinkHandle
  attachRawTracepoint(name: string): LinkHandle
  attachUprobe(binary: string, symbol: string | null, offset: number, pid: number, retprobe: boolean, cookie: bigint): LinkHandle
  attachUprobeMulti(binary: string, offsets: number[], pid: number, retprobe: boolean, cookies: bigint[] | null): LinkHandle
  attachUsdt(binary: string, provider: string, name: string, pid: number, cookie: bigint): LinkHandle
  attachKprobe(symbol: string, offset: number, retprobe: boolean, cookie: bigint): LinkHandle
  attachKprobeMulti(pattern: string | null, symbols: string[] | null, retprobe: boolean, cookies: bigint[] | null): LinkHandle
  attachKsyscall(syscall: string, retprobe: boolean, cookie: bigint): LinkHandle
  attachPerfEvent(type: number, config: bigint, sample: number, frequency: boolean, cpus: number[], pid: number, cookie: bigint): LinkHandle
  attachTrace(): LinkHandle
  attachLsm(): LinkHandle
  attachIter(mapFd: number): LinkHandle
  linkCreate(target: number, attachType: string, flags: number): LinkHandle
  attachSocket(fd: number): LinkHandle
  attachXdpNetlink(ifindex: number, flags: number): LinkHandle
  attachTcClsact(ifindex: number, egress: boolean, priority: number, handle: number): LinkHandle
  info(): ProgramInfo
  testRun(data: Uint8Array | null, ctx: Uint8Array | null, repeat: number, dataOutSize: number, ctxOutSize: number): TestRunResult
}

export interface MapHandle {
  readonly name: string
  readonly type: string
  keySize: number
  valueSize: number
  readonly valueBytes: number
  maxEntries: number
  flags: number
  numaNode: number
  mapExtra: bigint
  autocreate: boolean
  readonly isInternal: boolean
  readonly btfKeyTypeId: number
  readonly btfValueTypeId: number
  readonly btfId: number
  readonly fd: number
  readonly id: number
  pinPath: string | null
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
  /** The typed API's key and value, and the operations on them (no buffers to pass, no handle to unwrap). */
  scratch(): MapScratch
  freeze(): void
  attachStructOps(): LinkHandle
  pin(path: string): void
  unpin(): void
  reuse(other: MapHandle): void
  innerMap(): MapDefinition | null
  setInnerMap(inner: MapHandle): void
  info(): MapInfo
  readGlobal(offset: number, target: Uint8Array): void
  writeGlobal(offset: number, source: Uint8Array): void
  close(): void
}

export interface MapScratch {
  /** The key (padded to 8 bytes), then valueBytes of value. */
  readonly bytes: Buffer
  /** Looks the key up into the value (a bloom filter: looks the value up): whether found. */
  lookup(flags?: number): boolean
  /** Writes the value under the key (queue, stack, bloom filter: pushes the value). */
  update(flags?: number): void
  /** Deletes the key: whether it was there. */
  delete(): boolean
}

export interface BtfHandle {
  readonly count: number
  types(first: number, end: number): BtfType[]
  find(name: string, kind?: number): number
  dumpC(kfuncs: boolean): string
  rawData(): Buffer
  add(other: BtfHandle): number
  addTypes(other: BtfHandle, ids: number[]): number[]
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
  /** Whether the kernel undoes the attachment when this process's fds close (not netlink XDP, clsact). */
  readonly tiedToProcess: boolean
  readonly pinPath: string | null
  info(): LinkInfo | null
  pin(path: string): void
  unpin(): void
  detach(): void
  update(program: ProgramHandle): void
  iterCreate(): number
  destroy(): void
}

export interface UserRingBufferHandle {
  /** Writes one record; false when the ring has no room for it. */
  write(record: Uint8Array): boolean
  close(): void
}

/** What a map of its own is created from (BpfMap.create). */
export interface MapCreateSpec {
  type: string
  name?: string
  keySize: number
  valueSize: number
  maxEntries: number
  flags?: number
  numaNode?: number
  mapExtra?: bigint
  innerMap?: MapHandle
  btf?: BtfHandle
  keyTypeId?: number
  valueTypeId?: number
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

export interface RingBufferHandle extends EventReaderHandle {
  /** Unread bytes (record headers included) of the reader's ring at this index. */
  availableBytes(ring: number): number
}

export interface PerfBufferHandle extends EventReaderHandle {
  stats(): { events: number; bytes: number; batches: number; lost: number[] }
}

export interface Addon {
  BpfObject: new (source: string | Uint8Array, options: NativeObjectOptions) => ObjectHandle
  BpfMap: new (source: { pinned: string } | { id: number } | { fd: number } | { create: MapCreateSpec }) => MapHandle
  BpfProgram: new (source: { pinned: string } | { id: number }) => ProgramHandle
  Link: new (source: { pinned: string } | { id: number }) => LinkHandle
  Btf: new (source: { path: string } | { vmlinux: true } | { id: number } | { empty: true }) => BtfHandle
  RingBuffer: new (maps: MapHandle[], options: { batchEvents: number; batchBytes: number }) => RingBufferHandle
  PerfBuffer: new (map: MapHandle, options: { pages: number; batchEvents: number; batchBytes: number }) => PerfBufferHandle
  UserRingBuffer: new (map: MapHandle) => UserRingBufferHandle
  readonly libbpfVersion: string
  readonly sourceHash: string
  /** libbpf_num_possible_cpus(): the slots of a per-CPU map value. */
  readonly possibleCpus: number
  setErrorClass(bpfError: typeof BpfError): void
  setLogger(logger: ((level: number, message: string) => void) | null, level: number): void
  liveResources(): number
  /** Releases the attachments the kernel does not undo when the process ends (netlink XDP, clsact filters). */
  releaseUntied(): void
  /** if_nametoindex(3) in this process's network namespace; 0 when there is no such interface. */
  ifNameToIndex(name: string): number
  /** Keeps only these capability numbers in every thread; which threads failed or did not answer. */
  dropCapabilities(keep: number[]): { threads: number; failed: Array<{ tid: number; errno: number }>; unanswered: number[]; unreachable: number[] }
  /** Each probe asks the running kernel one thing (libbpf's probes, or a tiny program). */
  probeProgramType(name: string): boolean
  probeMapType(name: string): boolean
  probeHelper(programType: string, helper: string): boolean
  probeAttach(kinds: string[]): Record<string, boolean>
  /** The names the probes take. */
  probeNames(): { programTypes: string[]; mapTypes: string[]; helpers: string[] }
  /** The kernel's view of every loaded program, map and BPF link, system-wide. */
  listPrograms(): ProgramInfo[]
  listMaps(): MapInfo[]
  listLinks(): LinkInfo[]
}

/**
 * The addon file this process loaded: a prebuild shipped in the package, the local build, or the
 * one BPFKIT_ADDON names (e.g. the AddressSanitizer build from CMake).
 */
export const addonPath: string = findAddon()

function findAddon(): string {
  if (process.env.BPFKIT_ADDON) return path.resolve(process.env.BPFKIT_ADDON)
  try {
    return nodeGypBuild.path(path.join(__dirname, '..'))
  } catch (error) {
    const target = `${process.platform}-${process.arch}`
    throw new BpfError(`bpfkit has no native addon for ${target} in ${path.join(__dirname, '..')}`, {
      code: 'ENOENT',
      op: 'node-gyp-build',
      hint: 'prebuilt addons cover Linux x64 and arm64 with glibc >= 2.31; elsewhere build one: `npm rebuild bpfkit` (needs g++, make and python3)',
      cause: error,
    })
  }
}

export const addon = require(addonPath) as Addon
addon.setErrorClass(BpfError)
