// bpfkit's public API.
export { BpfObject, type OpenOptions, type ObjectState } from './object'
export { BpfProgram } from './program'
export { BpfMap, RawMap, UpdateFlags } from './map'
export { Link } from './link'
export { RingBuffer, type Decoder, type RingBufferOptions, type RingBufferStats } from './events/ring-buffer'
export { BpfError, VerifierError, type BpfErrorOptions, type VerifierErrorOptions } from './errors'
export { setLogger, type Logger, type LogLevel } from './log'
export { libbpfVersion, version } from './version'
