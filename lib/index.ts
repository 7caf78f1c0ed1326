// bpfkit's public API. Its types use Node's (Buffer, EventEmitter, Disposable): the reference makes them
// resolve in projects that do not list @types/node themselves.
/// <reference types="node" preserve="true" />
export { BpfObject, type OpenOptions, type AttachOptions, type ObjectLimits, type MapOptions, type ObjectState } from './object'
export {
  BpfProgram,
  type TestRunOptions,
  type TestRunResult,
  type UprobeOptions,
  type UprobeMultiOptions,
  type UsdtOptions,
  type KprobeOptions,
  type KprobeMultiOptions,
  type KsyscallOptions,
  type IterOptions,
  type XdpOptions,
  type XdpMode,
  type TcOptions,
  type CgroupOptions,
  type PerfEventOptions,
  type PerfEventName,
  type ProgramInfo,
  type ProgramStats,
} from './program'
export { BpfMap, RawMap, UpdateFlags, type UpdateFlag, type MapInfo, type MapDefinition, type CreateMapOptions, type TypeRef } from './map'
export type { SlotValue } from './map-slots'
export type { Globals } from './globals'
export { Btf } from './btf/btf'
export type { Codec, CodecOptions, CharFields, CharsMode, Int64, Int64AsNumber, Int64Mode } from './btf/codec'
export type * from './btf/types'
export { Link, Attachments, type LinkInfo, type LinkTarget, type SkippedProgram, type FailedProgram } from './link'
export { IterReader } from './iterator'
export { elfFunctions, elfNeeds, resolveBinary, type ElfSymbol, type ElfNeeds } from './elf'
export { selftest, type SelftestReport } from './selftest'
export { RingBuffer, type RingBufferOptions, type RingBufferStats, type WakeupPolicy } from './events/ring-buffer'
export { PerfBuffer, type PerfBufferOptions, type PerfBufferStats } from './events/perf-buffer'
export { UserRingBuffer, type UserRingBufferOptions } from './events/user-ring-buffer'
export { EventReader, type Decoder, type ReaderOptions, type ReaderEvents, type Tagged, type OnCpu } from './events/reader'
export { EventBatch, type EventView, type EventOf } from './events/batch'
export {
  BpfError,
  VerifierError,
  ERRNO,
  ERROR_CODES,
  type BpfErrorCode,
  type BpfErrorOptions,
  type ErrorOrigin,
  type VerifierErrorOptions,
} from './errors'
export { setLogger, type Logger, type LogLevel } from './log'
export { libbpfVersion, version } from './version'
export { features, probeKernel, ATTACH_KINDS, type AttachKind, type KernelSupport } from './probe'
export { dropCapabilities, capabilities, CAPABILITIES, type Capability, type CapabilitySets, type DroppedCapabilities } from './capabilities'
export {
  openSkeleton,
  type OpenedSkeleton,
  type LoadedSkeleton,
  type RingBufferMap,
  type PerfBufferMap,
  type UserRingBufferMap,
  type SkeletonSpec,
  type SkeletonGlobals,
} from './skeleton/runtime'
export { generateSkeleton, type GenerateOptions } from './skeleton/generate'
export type { Init } from './btf/codec'
