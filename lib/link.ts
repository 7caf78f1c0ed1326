// Link: keeps a program attached until closed; pinned to bpffs, it outlives the process.
import { addon, type LinkHandle } from './native'
import { invalidArgument } from './errors'
import { untiedAttached, untiedReleased } from './exit'

/** The kernel's view of a BPF link (bpf_link_get_info_by_fd). */
export interface LinkInfo {
  /** The link's id, as `bpftool link` shows it. */
  id: number
  /** libbpf's name of the link type: `tracing`, `perf_event`, `xdp`, `tcx`, `cgroup`, `uprobe_multi`… */
  type: string
  /** The id of the attached program. */
  programId: number
}

/** What a link attaches, as bpfkit describes it. */
export interface LinkTarget {
  /** The program's name (empty for a link reopened from a pin). */
  program: string
  /** Where it is attached, e.g. `tracepoint syscalls/sys_enter_openat`, `xdp veth0 (skb)`. */
  target: string
}

export class Link implements Disposable {
  readonly #handle: LinkHandle
  #onClose: (() => void) | undefined
  #closed = false
  /** The program's name (empty for a link reopened from a pin). */
  readonly program: string
  /** Where the program is attached, e.g. `tracepoint syscalls/sys_enter_openat`, `xdp veth0 (skb)`. */
  readonly target: string

  /** @internal Links come from a program's attach calls, or from Link.openPinned(). */
  constructor(handle: LinkHandle, onClose?: () => void, target: LinkTarget = { program: '', target: '' }) {
    this.#handle = handle
    this.#onClose = onClose
    this.program = target.program
    this.target = target.target
    if (!handle.tiedToProcess) untiedAttached(this)
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
    if (typeof path !== 'string' || path === '') throw invalidArgument('link.pin', 'path must be a non-empty string')
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

  /** Detaches (unless pinned) and releases the link. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
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

/** A program obj.attach() left alone, and why. */
export interface SkippedProgram {
  program: string
  section: string
  reason: string
}

/**
 * What obj.attach() made: the links (it is an array of them, each with `program` and `target`),
 * plus the programs it skipped, with the reason.
 */
export class Attachments extends Array<Link> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array
  }

  /** Programs not attached: autoload off, or a SEC() name that names no target. */
  readonly skipped: SkippedProgram[] = []

  /** One line per program: `name → target`, or `name skipped: reason`. */
  report(): string[] {
    return [
      ...this.map((link) => `${link.program} → ${link.target}`),
      ...this.skipped.map((skip) => `${skip.program} skipped: ${skip.reason}`),
    ]
  }
}
