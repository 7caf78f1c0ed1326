// Link: keeps a program attached until closed; pinned to bpffs, it outlives the process.
import type { LinkHandle } from './native'
import { invalidArgument } from './errors'

export class Link implements Disposable {
  readonly #handle: LinkHandle
  #onClose: (() => void) | undefined
  #closed = false

  /** @internal Links come from a program's attach calls. */
  constructor(handle: LinkHandle, onClose?: () => void) {
    this.#handle = handle
    this.#onClose = onClose
  }

  /** The link's file descriptor. */
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

  /** Pins the link at `path` on a bpffs mount, so the attachment survives this process. */
  pin(path: string): void {
    if (typeof path !== 'string' || path === '') throw invalidArgument('link.pin', 'path must be a non-empty string')
    this.#handle.pin(path)
  }

  /** Removes the pin; the link stays attached while this Link is open. */
  unpin(): void {
    this.#handle.unpin()
  }

  /** Detaches (unless pinned) and releases the link. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#handle.destroy()
    const onClose = this.#onClose
    this.#onClose = undefined
    onClose?.()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
