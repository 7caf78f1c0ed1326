// BpfProgram: one program of an object: its identity, autoload switch and attach calls.
import type { ProgramHandle } from './native'
import { invalidArgument } from './errors'
import { Link } from './link'

/** @internal How a program hands its new links to the object that will close them. */
export type LinkTracker = (handle: import('./native').LinkHandle) => Link

export class BpfProgram {
  readonly #handle: ProgramHandle
  readonly #track: LinkTracker

  /** @internal Programs come from `BpfObject.programs`. */
  constructor(handle: ProgramHandle, track: LinkTracker) {
    this.#handle = handle
    this.#track = track
  }

  /** The C function's name. */
  get name(): string {
    return this.#handle.name
  }

  /** The SEC() name, e.g. `tracepoint/syscalls/sys_enter_execve`. */
  get section(): string {
    return this.#handle.section
  }

  /** libbpf's name of the program type, e.g. `tracepoint`, `xdp`. */
  get type(): string {
    return this.#handle.type
  }

  /** Whether load() loads this program. Settable before load. */
  get autoload(): boolean {
    return this.#handle.autoload
  }

  set autoload(value: boolean) {
    if (typeof value !== 'boolean') throw invalidArgument('program.autoload', 'autoload must be a boolean')
    this.#handle.autoload = value
  }

  /** The loaded program's file descriptor. */
  get fd(): number {
    return this.#handle.fd
  }

  /** The kernel's id of the loaded program (as bpftool prog shows it). */
  get id(): number {
    return this.#handle.id
  }

  /** Attaches where the SEC() name says (libbpf's auto-attach). */
  attach(): Link {
    return this.#track(this.#handle.attach())
  }

  /** Attaches to the tracepoint `category/name` (see /sys/kernel/tracing/events). */
  attachTracepoint(category: string, name: string): Link {
    if (typeof category !== 'string' || category === '' || typeof name !== 'string' || name === '') {
      throw invalidArgument('program.attachTracepoint', 'category and name must be non-empty strings')
    }
    return this.#track(this.#handle.attachTracepoint(category, name))
  }

  /**
   * Runs the program once (or `repeat` times) in the kernel on the given input, without attaching it
   * (BPF_PROG_TEST_RUN): XDP, TC and socket programs take packet `data` (and optionally `ctx`); raw
   * tracepoint and `syscall` programs take only `ctx` and refuse `repeat` — a `syscall` program writes
   * its results back into the `ctx` buffer itself. Returns the program's return value and what it left
   * in the packet (and in the context, with `ctxOutSize`).
   */
  testRun(options: TestRunOptions = {}): TestRunResult {
    const op = 'program.testRun'
    if (options === null || typeof options !== 'object') throw invalidArgument(op, 'options must be an object')
    for (const key of ['data', 'ctx'] as const) {
      if (options[key] !== undefined && !(options[key] instanceof Uint8Array)) throw invalidArgument(op, `${key} must be a Uint8Array`)
    }
    for (const key of ['repeat', 'dataOutSize', 'ctxOutSize'] as const) {
      const value = options[key]
      if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xffffffff)) {
        throw invalidArgument(op, `${key} must be a non-negative 32-bit integer`)
      }
    }
    const dataOutSize = options.dataOutSize ?? (options.data === undefined ? 0 : options.data.length + 256)
    const result = this.#handle.testRun(options.data ?? null, options.ctx ?? null, options.repeat ?? 0, dataOutSize,
      options.ctxOutSize ?? 0)
    return {
      retval: result.retval,
      duration: result.duration,
      ...(result.data === null ? {} : { data: result.data }),
      ...(result.ctx === null ? {} : { ctx: result.ctx }),
    }
  }
}

export interface TestRunOptions {
  /** Packet data for XDP, TC and socket filter programs. */
  data?: Uint8Array
  /** The context: raw tracepoint arguments, a `syscall` program's argument struct, an xdp_md… */
  ctx?: Uint8Array
  /** Runs this many times (the duration is then the average); default once. */
  repeat?: number
  /** Room for the output packet (default: the input's size + 256). */
  dataOutSize?: number
  /** Room for the output context (XDP, TC…; default none). */
  ctxOutSize?: number
}

export interface TestRunResult {
  /** The program's return value (as a signed 32-bit integer). */
  retval: number
  /** Average run time in nanoseconds. */
  duration: number
  /** The packet as the program left it. */
  data?: Buffer
  /** The context as the program left it. */
  ctx?: Buffer
}
