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
}
