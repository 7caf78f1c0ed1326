// IterReader: one pass over a BPF iterator's output (bpf_iter_create), as bytes, lines or typed records.
import * as fs from 'node:fs'
import * as readline from 'node:readline'
import { Readable } from 'node:stream'
import { BpfError, systemError } from './errors'
import type { Btf } from './btf/btf'

const CHUNK = 64 * 1024

/**
 * What an iterator printed (BPF_SEQ_PRINTF) or wrote (bpf_seq_write) in one pass: a Readable of its bytes,
 * read from the kernel as it walks. `lines()` gives text lines, `records(type)` fixed-size records decoded
 * by a BTF type of the iterator's object. A pass is read once: `link.open()` starts another.
 */
export class IterReader extends Readable {
  #fd: number
  readonly #btf: () => Btf | undefined
  readonly #onClose: () => void
  #consumed = false
  #started = false
  /** The close that destroy() left for the read in flight to do (as fs.ReadStream does). */
  #closeAfterRead: (() => void) | undefined
  #reading = false

  /** @internal Passes come from `link.open()`. */
  constructor(fd: number, btf: () => Btf | undefined, onClose: () => void) {
    super({ highWaterMark: CHUNK })
    this.#fd = fd
    this.#btf = btf
    this.#onClose = onClose
  }

  override _read(size: number): void {
    this.#started = true
    const buffer = Buffer.allocUnsafe(Math.max(size, CHUNK))
    this.#reading = true
    fs.read(this.#fd, buffer, 0, buffer.length, null, (error, bytes) => {
      this.#reading = false
      const close = this.#closeAfterRead
      if (close !== undefined) {
        // Destroyed meanwhile: what was read goes, and the fd closes only now, so that no other file
        // opened in between gets its number while the read still uses it.
        this.#closeAfterRead = undefined
        close()
        return
      }
      if (error) {
        this.destroy(systemError('read(bpf_iter)', 'the iterator failed', error,
          error.code === 'E2BIG' ? 'one element printed more than the seq_file buffer holds: print less per element' : undefined))
        return
      }
      this.push(bytes === 0 ? null : buffer.subarray(0, bytes))
    })
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fd = this.#fd
    this.#fd = -1
    this.#onClose()
    if (fd < 0) {
      callback(error)
      return
    }
    const close = (): void => fs.close(fd, () => callback(error))
    if (this.#reading) this.#closeAfterRead = close
    else close()
  }

  /** The output as text lines (without their newlines). */
  lines(): AsyncIterableIterator<string> {
    this.#consume('lines')
    return readline.createInterface({ input: this, crlfDelay: Infinity })[Symbol.asyncIterator]()
  }

  /** The whole output as one string. */
  async text(): Promise<string> {
    this.#consume('text')
    const chunks: Buffer[] = []
    for await (const chunk of this) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }

  /**
   * The output as records of a BTF type of the iterator's object (a struct, union or typedef the program
   * writes with bpf_seq_write(seq, &record, sizeof(record))).
   */
  async *records<T = any>(type: string): AsyncIterableIterator<T> {
    const op = 'iter.records'
    const btf = this.#btf()
    const found = typeof type === 'string' && type !== ''
      ? btf?.find(type, 'struct') ?? btf?.find(type, 'union') ?? btf?.find(type, 'typedef')
      : undefined
    if (found === undefined || btf === undefined) {
      this.#consumed = true
      this.destroy()
      throw new BpfError(`${op}: the iterator's object has no struct, union or typedef named '${String(type)}'`, {
        code: 'ENOENT', op, origin: 'argument',
        hint: btf === undefined ? 'compile the object with -g' : 'name the type the program passes to bpf_seq_write(), e.g. "record"',
      })
    }
    this.#consume('records')
    const codec = btf.codec<T>(found.id)
    let pending: Buffer = Buffer.alloc(0)
    for await (const chunk of this) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer])
      let offset = 0
      for (; offset + codec.size <= pending.length; offset += codec.size) yield codec.decode(pending, offset)
      pending = pending.subarray(offset)
    }
    if (pending.length > 0) {
      throw new BpfError(`${op}: the output ends with ${pending.length} bytes, less than one ${btf.typeName(found.id)} (${codec.size} bytes)`, {
        code: 'EINVAL', op, hint: 'the program must write whole records of that type, each with one bpf_seq_write()',
      })
    }
  }

  #consume(how: string): void {
    const op = `iter.${how}`
    if (this.destroyed && !this.#consumed && !this.#started && this.errored === null) {
      throw new BpfError(`${op}: this pass over the iterator was closed before it was read (by destroy(), or by closing its link)`, {
        code: 'ECLOSED', op, origin: 'state', hint: 'call link.open() for a new pass while the link is open',
      })
    }
    if (this.#consumed || this.readableDidRead || this.destroyed) {
      throw new BpfError(`${op}: this pass over the iterator was read already; each link.open() is one pass`, {
        code: 'EBADSTATE', op, origin: 'state', hint: 'call link.open() again for a new pass',
      })
    }
    this.#consumed = true
  }
}
