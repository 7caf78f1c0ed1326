// libbpf's log: where its messages go (a logger per object or one for the process) and from which level.
import { describe, invalidArgument } from './errors'
import { addon } from './native'

export type LogLevel = 'warn' | 'info' | 'debug'

/** Receives libbpf's messages with their level, as libbpf_set_print's callback would. */
export type Logger = (level: LogLevel, message: string) => void

export const LOG_LEVELS: readonly LogLevel[] = ['warn', 'info', 'debug']

/**
 * Prints to stderr as libbpf's own default does (its messages start with `libbpf: `). It gets what the
 * process-wide level lets through: warnings, and with `BPFKIT_DEBUG=1` the debug output too.
 */
export const defaultLogger: Logger = (_level, message) => {
  process.stderr.write(message)
}

export function levelNumber(level: LogLevel | undefined, op: string): number | undefined {
  if (level === undefined) return undefined
  const n = LOG_LEVELS.indexOf(level)
  if (n < 0) throw invalidArgument(op, `logLevel must be one of ${LOG_LEVELS.join(', ')}`)
  return n
}

/** Adapts a Logger to the native side, which passes libbpf's numeric level. */
export function nativeLogger(logger: Logger): (level: number, message: string) => void {
  return (level, message) => logger(LOG_LEVELS[level] ?? 'debug', message)
}

/** `BPFKIT_DEBUG=1` turns libbpf's debug output on for the whole process. */
export function initialLevel(): LogLevel {
  const debug = process.env.BPFKIT_DEBUG
  return debug !== undefined && debug !== '' && debug !== '0' ? 'debug' : 'warn'
}

/**
 * Sets where libbpf's messages go for every object that has no logger of its own, and from which
 * level (`'warn'` by default; `BPFKIT_DEBUG=1` starts at `'debug'`). `null` restores the default.
 */
export function setLogger(logger: Logger | null, level: LogLevel = 'warn'): void {
  if (logger !== null && logger !== undefined && typeof logger !== 'function') throw invalidArgument('setLogger', `logger must be a function or null, got ${describe(logger)}`)
  addon.setLogger(nativeLogger(logger ?? defaultLogger), levelNumber(level, 'setLogger') ?? 0)
}

setLogger(defaultLogger, initialLevel())
