// Event sinks: a ring buffer's typed events as NDJSON lines, to stdout or to a file rotated by size.

import * as fs from 'node:fs'
import * as path from 'node:path'
import { BpfError, type BpfObject, type RingBuffer } from '../index'

export interface SinkOptions {
  /** `stdout`, or a file path. */
  output: string
  /** The BTF struct of the events, when the map does not declare it. */
  type?: string
  /** Rotate the file once it reaches this many bytes (default 64 MiB). */
  maxBytes?: number
  /** Rotated files kept: file.1 (newest) … file.<keep> (default 4). */
  keep?: number
  /**
   * Longest an event waits before it is written (default 1000 ms). Events are drained in batches, so
   * that a busy machine does not wake the daemon for every one; needs a program that submits through
   * bpfkit.bpf.h (others wake the daemon per event).
   */
  maxLatencyMs?: number
  /** Added to every line (`program`, `map`). */
  fields: Record<string, string>
}

/** JSON for what codecs decode: 64-bit integers as numbers while exact, else strings; typed arrays as arrays. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : String(value)
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => replacer('', v))
  return value
}

/**
 * A file written by appending whole lines, moved aside to file.1 (file.1 to file.2, …) before a line
 * would take it past maxBytes.
 */
class RotatingFile {
  #fd: number
  #size: number

  constructor(readonly file: string, readonly maxBytes: number, readonly keep: number) {
    // As a log directory is made for a daemon's first start (/var/log/bpfkit).
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 })
    this.#fd = fs.openSync(file, 'a', 0o640)
    this.#size = fs.fstatSync(this.#fd).size
  }

  write(lines: readonly string[]): void {
    let pending = ''
    let pendingBytes = 0
    for (const line of lines) {
      const bytes = Buffer.byteLength(line)
      if (this.#size + pendingBytes > 0 && this.#size + pendingBytes + bytes > this.maxBytes) {
        if (pending !== '') fs.writeSync(this.#fd, pending)
        this.#rotate()
        pending = ''
        pendingBytes = 0
      }
      pending += line
      pendingBytes += bytes
    }
    if (pending !== '') fs.writeSync(this.#fd, pending)
    this.#size += pendingBytes
  }

  #rotate(): void {
    fs.closeSync(this.#fd)
    if (this.keep === 0) {
      fs.rmSync(this.file, { force: true })
    } else {
      fs.rmSync(`${this.file}.${this.keep}`, { force: true })
      for (let i = this.keep - 1; i >= 1; i--) {
        if (fs.existsSync(`${this.file}.${i}`)) fs.renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`)
      }
      fs.renameSync(this.file, `${this.file}.1`)
    }
    this.#fd = fs.openSync(this.file, 'a', 0o640)
    this.#size = 0
  }

  close(): void {
    fs.closeSync(this.#fd)
  }
}

/** Writes every event of one ring buffer map as a JSON line: `{ time, ...fields, event }`. */
export class EventSink {
  readonly reader: RingBuffer
  readonly #file: RotatingFile | undefined

  constructor(object: BpfObject, map: string, options: SinkOptions) {
    this.#file = options.output === 'stdout' ? undefined : new RotatingFile(options.output, options.maxBytes ?? 64 << 20, options.keep ?? 4)
    try {
      this.reader = object.ringBuffer(map, options.type === undefined ? {} : { type: options.type })
    } catch (error) {
      this.#file?.close()
      throw error
    }
    try {
      const ring = object.map(map).maxEntries
      this.reader.wakeup = { bytes: Math.min(ring >> 1, 64 << 10), maxLatencyMs: options.maxLatencyMs ?? 1000 }
    } catch (error) {
      if (!(error instanceof BpfError && error.code === 'EOPNOTSUPP')) throw error
    }
    const prefix = JSON.stringify(options.fields).slice(1, -1)
    this.reader.on('batch', (batch) => {
      const time = new Date().toISOString()
      const lines = new Array<string>(batch.count)
      for (let i = 0; i < batch.count; i++) {
        lines[i] = `{"time":"${time}",${prefix},"event":${JSON.stringify(batch.decode(i), replacer)}}\n`
      }
      if (this.#file !== undefined) {
        this.#file.write(lines)
      } else if (!process.stdout.write(lines.join(''))) {
        // A slow reader of stdout: stop draining; the ring fills and the kernel side counts the drops.
        this.reader.pause()
        process.stdout.once('drain', () => this.reader.closed || this.reader.resume())
      }
    })
  }

  close(): void {
    this.reader.close()
    this.#file?.close()
  }
}
