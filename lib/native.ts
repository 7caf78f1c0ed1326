// Loads the addon (a prebuild or the local build) and describes what it exports.
import * as path from 'node:path'
import nodeGypBuild = require('node-gyp-build')
import { BpfError, VerifierError } from './errors'

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
}

export interface MapHandle {
  readonly name: string
  readonly type: string
  readonly keySize: number
  readonly valueSize: number
  readonly valueBytes: number
  maxEntries: number
  readonly isInternal: boolean
  readonly fd: number
  readonly id: number
  lookup(key: Uint8Array, flags?: number): Buffer | undefined
  update(key: Uint8Array, value: Uint8Array, flags?: number): void
  delete(key: Uint8Array): boolean
  nextKey(key: Uint8Array | null): Buffer | undefined
}

export interface LinkHandle {
  readonly fd: number
  readonly pinPath: string | null
  pin(path: string): void
  unpin(): void
  destroy(): void
}

export interface RingBufferHandle {
  onbatch?: (buffer: ArrayBuffer, count: number) => void
  onerror?: (error: Error) => void
  readonly offsets: Uint32Array
  readonly lengths: Uint32Array
  resume(): void
  pause(): void
  close(): void
  stats(): { events: number; bytes: number; batches: number }
}

export interface Addon {
  BpfObject: new (source: string | Uint8Array, options: NativeObjectOptions) => ObjectHandle
  RingBuffer: new (maps: MapHandle[], options: { batchEvents: number; batchBytes: number }) => RingBufferHandle
  readonly libbpfVersion: string
  readonly sourceHash: string
  setErrorClasses(bpfError: typeof BpfError, verifierError: typeof VerifierError): void
  setLogger(logger: ((level: number, message: string) => void) | null, level: number): void
  liveResources(): number
}

// BPFKIT_ADDON names another build of the addon (e.g. the AddressSanitizer one from CMake).
export const addon: Addon = (
  process.env.BPFKIT_ADDON ? require(path.resolve(process.env.BPFKIT_ADDON)) : nodeGypBuild(path.join(__dirname, '..'))
) as Addon
addon.setErrorClasses(BpfError, VerifierError)
