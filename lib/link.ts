// Link: keeps a program attached until closed; pinned to bpffs, it outlives the process. An iterator's
// link also reads its output (open()), and most links can swap their program (update()).
import { addon, type LinkHandle } from './native'
import { BpfError, invalidArgument, isInstance } from './errors'
import { BpfProgram } from './program'
import { IterReader } from './iterator'
import type { Btf } from './btf/btf'
import { untiedAttached, untiedReleased } from './exit'

/** The kernel's view of a BPF link (bpf_link_get_info_by_fd). */
export interface LinkInfo {
  /** The link's id, as `bpftool link` shows it. */
  id: number
  /** libbpf's name of the link type: `tracing`, `perf_event`, `xdp`, `tcx`, `cgroup`, `uprobe_multi`… */
  type: string
  /** The id of the attached program. */
  programId: number
  /** libbpf's name of the attach type (tracing, cgroup, netns and tcx links). */
  attachType?: string
  /** The raw tracepoint, the iterator's target, the perf event's tracepoint, function or file, the uprobe.multi binary. */
  name?: string
  /** The cgroup's id (cgroup links). */
  cgroupId?: bigint
  /** The interface (XDP and tcx links). */
  ifindex?: number
  /** The network namespace's inode (netns links). */
  netnsIno?: number
  /** The map an iterator walks, or a struct_ops link's map. */
  mapId?: number
  /** The program or BTF object and the BTF type a tracing link attaches to. */
  targetObjectId?: number
  targetBtfId?: number
  /** Functions of a kprobe.multi or uprobe.multi link. */
  count?: number
  /** The process a uprobe.multi link is limited to. */
  pid?: number
}

/** What a link attaches, as bpfkit describes it. */
export interface LinkTarget {
  /** The program's name (empty for a link reopened from a pin). */
  program: string
  /** Where it is attached, e.g. `tracepoint syscalls/sys_enter_openat`, `xdp veth0 (skb)`. */
  target: string
}

/** Link types whose program the kernel swaps on request (BPF_LINK_UPDATE). */
const UPDATABLE_TYPES = new Set(['cgroup', 'xdp', 'tcx', 'netns', 'netkit', 'sockmap'])
const UPDATABLE = 'cgroup, XDP, tcx, netns (sk_lookup, flow dissector), netkit and sockmap links'

export class Link implements Disposable {
  readonly #handle: LinkHandle
  readonly #btf: () => Btf | undefined
  readonly #passes = new Set<IterReader>()
  #onClose: (() => void) | undefined
  #closed = false
  #program: string
  /** Where the program is attached, e.g. `tracepoint syscalls/sys_enter_openat`, `xdp veth0 (skb)`. */
  readonly target: string

  /**
   * @internal Links come from a program's attach calls, Link.openPinned() or Link.fromId(). `btf` types
   * an iterator's records.
   */
  constructor(handle: LinkHandle, onClose?: () => void, target: LinkTarget = { program: '', target: '' }, btf?: () => Btf | undefined) {
    this.#handle = handle
    this.#onClose = onClose
    this.#program = target.program
    this.target = target.target
    this.#btf = btf ?? (() => undefined)
    if (!handle.tiedToProcess) untiedAttached(this)
  }

  /** The program's name (empty for a link reopened from a pin or by id); update() changes it. */
  get program(): string {
    return this.#program
  }

  /**
   * Opens a link pinned at `path` (by this or another process). Closing the returned Link releases
   * only this process's reference: the pin keeps the program attached until `unpin()` or `detach()`.
   */
  static openPinned(path: string): Link {
    if (typeof path !== 'string' || path === '') throw invalidArgument('Link.openPinned', 'path must be a non-empty string')
    return new Link(new addon.Link({ pinned: path }), undefined, { program: '', target: `pinned ${path}` })
  }

  /**
   * Opens a BPF link by its id (as `bpftool link list` and `bpfkit ps` show it). Closing the returned
   * Link releases only this reference; `detach()` would detach it for its owner too.
   */
  static fromId(id: number): Link {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw invalidArgument('Link.fromId', 'expected a link id (a positive integer)')
    return new Link(new addon.Link({ id }), undefined, { program: '', target: `link id ${id}` })
  }

  /** Every BPF link in the kernel, system-wide (what `bpftool link list` shows). */
  static list(): LinkInfo[] {
    return addon.listLinks()
  }

  /**
   * The link's file descriptor; -1 for attachments that are not one BPF link (socket filters,
   * netlink XDP, clsact filters, perf events on several CPUs).
   */
  get fd(): number {
    return this.#handle.fd
  }

  /** Where the link is pinned, or null. */
  get pinPath(): string | null {
    return this.#handle.pinPath
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The kernel's id, type and program of this link; null for attachments that are not one BPF link. */
  info(): LinkInfo | null {
    return this.#handle.info()
  }

  /**
   * Pins the link at `path` on a bpffs mount, so the attachment survives this process. Only BPF links
   * can be pinned: socket filters, netlink XDP, clsact filters and multi-CPU perf events throw EOPNOTSUPP.
   */
  pin(path: string): void {
    const op = 'link.pin'
    if (typeof path !== 'string' || path === '') throw invalidArgument(op, 'path must be a non-empty string')
    const pinned = this.#handle.pinPath
    if (pinned !== null) {
      throw new BpfError(`${op}: this link is pinned at ${pinned} already`, {
        code: 'EBUSY', op, origin: 'state', hint: 'a link has one pin: unpin() it first to pin it elsewhere',
      })
    }
    this.#handle.pin(path)
  }

  /** Removes the pin; the link stays attached while this Link is open. */
  unpin(): void {
    this.#handle.unpin()
  }

  /**
   * Detaches the program now, even if the link is pinned or open elsewhere (BPF_LINK_DETACH; for
   * socket filters, netlink XDP and clsact filters, their own detach). The Link stays open until close().
   */
  detach(): void {
    this.#handle.detach()
  }

  /**
   * Swaps the program this link runs for `program`, atomically: every event runs the old program or the
   * new one, none is missed (BPF_LINK_UPDATE). `program` must be of the same type and attach type.
   * The kernel does this for ${UPDATABLE}; others throw EOPNOTSUPP.
   */
  update(program: BpfProgram): void {
    const op = 'link.update'
    if (!isInstance(program, BpfProgram)) throw invalidArgument(op, 'expected a BpfProgram (loaded)')
    const info = this.info()
    if (info === null || !UPDATABLE_TYPES.has(info.type)) {
      throw new BpfError(`${op}: the kernel cannot swap the program of ${info === null ? `${this.target}, which is not one BPF link` : `a ${info.type} link`}`, {
        code: 'EOPNOTSUPP', op, origin: 'argument', hint: `the kernel swaps programs of ${UPDATABLE}: close this one and attach the new program`,
      })
    }
    const running = programType(info.programId)
    if (running !== undefined && running !== program.type) {
      throw invalidArgument(op, `the link runs a ${running} program; '${program.name}' is a ${program.type} program`,
        'a link takes only a program of the type and attach type it was made for (the same SEC() kind)')
    }
    try {
      this.#handle.update(program.handle)
    } catch (error) {
      if (error instanceof BpfError && (error.code === 'EOPNOTSUPP' || error.code === 'EINVAL')) {
        throw new BpfError(`${op}: the kernel refused to swap the program of this ${info.type} link: ${error.message.split('\n')[0]}`, {
          code: error.code, errno: error.errno, op: error.op, cause: error,
          hint: error.code === 'EOPNOTSUPP'
            ? `the kernel swaps programs of ${UPDATABLE} only: close this one and attach the new program`
            : 'the new program must have the attach type the link was made for (the same SEC()), and be loaded',
        })
      }
      throw error
    }
    this.#program = program.name
  }

  /**
   * Reads an iterator's output (a link of `attachIter()`): each call starts a new pass (bpf_iter_create)
   * over what the iterator walks now. The result is a Readable of the bytes, with `lines()` and
   * `records(type)` for text and for fixed-size records; one pass is read once.
   */
  open(): IterReader {
    const op = 'link.open'
    const info = this.info()
    if (info?.type !== 'iter') {
      throw invalidArgument(op, `${this.target || 'this link'} is not an iterator's link`,
        'open() reads BPF iterators: attach a SEC("iter/…") program with attachIter() and open that link')
    }
    const pass: IterReader = new IterReader(this.#handle.iterCreate(), this.#btf, () => this.#passes.delete(pass))
    this.#passes.add(pass)
    return pass
  }

  /** Detaches (unless pinned) and releases the link, and ends the iterator passes it opened. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const pass of [...this.#passes]) pass.destroy()
    this.#handle.destroy()
    untiedReleased(this)
    const onClose = this.#onClose
    this.#onClose = undefined
    onClose?.()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

/** The type of the loaded program with this id, or undefined when it is gone. */
function programType(id: number): string | undefined {
  let program: BpfProgram | undefined
  try {
    program = BpfProgram.fromId(id)
    return program.type
  } catch {
    return undefined
  } finally {
    program?.close()
  }
}

/** A program obj.attach() left alone, and why. */
export interface SkippedProgram {
  program: string
  section: string
  reason: string
}

/** A program obj.attach({ partial: true }) could not attach, and why. */
export interface FailedProgram {
  program: string
  section: string
  /** What the attach call threw. */
  error: BpfError
  /** The cause in a few words. */
  reason: string
}

/**
 * What obj.attach() made: the links (it is an array of them, each with `program` and `target`),
 * plus the programs it skipped and (with `partial`) those that failed, with the reason.
 */
export class Attachments extends Array<Link> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array
  }

  /** Programs not attached: autoload off, or a SEC() name that names no target. */
  readonly skipped: SkippedProgram[] = []

  /** Programs that failed to attach (only with `{ partial: true }`; otherwise attach() throws). */
  readonly failed: FailedProgram[] = []

  /** One line per program: `name → target`, `name skipped: reason` or `name failed: reason`. */
  report(): string[] {
    return [
      ...this.map((link) => `${link.program} → ${link.target}`),
      ...this.skipped.map((skip) => `${skip.program} skipped: ${skip.reason}`),
      ...this.failed.map((failure) => `${failure.program} failed: ${failure.reason}`),
    ]
  }
}
