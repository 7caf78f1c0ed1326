// The daemon's log: JSON lines with levels on stderr (pino), libbpf's messages among them.

import pino, { type Logger as Pino } from 'pino'
import { setLogger, type Logger, type LogLevel } from '../index'

export type Log = Pino

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type DaemonLogLevel = (typeof LOG_LEVELS)[number]

/** A JSON-lines logger on stderr (stdout is left to event sinks); synchronous, so nothing is lost at exit. */
export function createLog(level: DaemonLogLevel): Log {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, pino.destination({ dest: 2, sync: true }))
}

/** libbpf's messages as log lines (`source: "libbpf"`), with the fields given (the program's name). */
export function libbpfLogger(log: Log, fields: Record<string, string> = {}): Logger {
  return (level, message) => {
    const text = message.trimEnd()
    if (text !== '') log[level === 'warn' ? 'warn' : level === 'info' ? 'info' : 'debug']({ source: 'libbpf', ...fields }, text)
  }
}

/** Routes libbpf's process-wide messages into the log, from the level the log shows. */
export function routeLibbpf(log: Log, level: DaemonLogLevel): void {
  const libbpfLevel: LogLevel = level === 'debug' ? 'debug' : level === 'info' ? 'info' : 'warn'
  setLogger(libbpfLogger(log), libbpfLevel)
}
