// BpfObject: a compiled BPF ELF object from open to close: its programs, maps, links and readers.
import { addon, type LinkHandle, type ObjectHandle } from './native'
import { BpfError, VerifierError, invalidArgument } from './errors'
import { programTypeSupported } from './probe'
import { levelNumber, nativeLogger, type Logger, type LogLevel } from './log'
import { BpfProgram } from './program'
import { BpfMap } from './map'
import { Attachments, Link, type LinkTarget } from './link'
import { RingBuffer, ensureRingBufferMap, type RingBufferOptions } from './events/ring-buffer'
import { readerOptions, type OnCpu, type ReaderOptions, type Tagged } from './events/reader'
import { PerfBuffer, ensurePerfEventArray, perfOptions, type PerfBufferOptions } from './events/perf-buffer'
import { customRecord, eventType, rawRecord, typedRecord, type RecordType } from './events/decode'
import { Btf, int64Of } from './btf/btf'
import type { Int64Mode } from './btf/codec'
import { globalsOf, type Globals } from './globals'

export interface OpenOptions {
  /** Overrides the object's name (by default the file name without `.bpf.o`/`.o`). */
  objectName?: string
  /** BTF to relocate against instead of the running kernel's /sys/kernel/btf/vmlinux. */
  btfCustomPath?: string
  /**
   * BTF files to merge with the kernel's (or `btfCustomPath`'s) for relocation: a user-space
   * program's types (`pahole --btf_encode_detached`), so that uprobes read its structs by CO-RE.
   */
  extraBtf?: readonly string[]
  /** Verifier log level for every program (1 = basic, 2 = verbose, 4 = stats); 0 logs only on failure. */
  kernelLogLevel?: number
  /** Receives libbpf's messages for this object instead of the process-wide logger. */
  logger?: Logger
  /** The most detailed level passed to the logger (default: the process-wide level, 'warn'). */
  logLevel?: LogLevel
  /**
   * How the object's maps, globals and readers decode 64-bit integers: `'bigint'` (default, exact) or
   * `'number'` (exact below 2^53). `map(name, { int64 })` and each reader's option override it.
   */
  int64?: Int64Mode
  /**
   * Refusals that keep an object from an untrusted source from taking the process down, checked
   * before libbpf or the kernel does the work. Raise them for objects you trust that need more.
   */
  limits?: ObjectLimits
}

export interface ObjectLimits {
  /** The largest object file or byte array open() reads (default 256 MiB). */
  objectBytes?: number
  /**
   * The most kernel memory load() lets the object's maps take together, as estimated from their types,
   * sizes and maxEntries (default 1 GiB). A crafted object can declare maps that take gigabytes, or
   * minutes inside BPF_MAP_CREATE.
   */
  mapBytes?: number
}

/** Options of `obj.map(name, options)`. */
export interface MapOptions {
  /** How this map decodes 64-bit integers (default: the object's `int64`). */
  int64?: Int64Mode
}

const DEFAULT_LIMITS: Required<ObjectLimits> = { objectBytes: 256 * 2 ** 20, mapBytes: 2 ** 30 }

export type ObjectState = 'opened' | 'loading' | 'loaded' | 'failed' | 'closed'

type Closable = { close(): void }

/** The kernel's (or `base`'s) BTF merged with `extras`, which the addon hands libbpf in a memfd. */
function mergedBtf(base: string | undefined, extras: readonly string[]): Uint8Array {
  return Btf.merge(base === undefined ? Btf.vmlinux() : Btf.parse(base), ...extras.map((file) => Btf.parse(file))).rawData()
}

function checkLimits(limits: unknown): Required<ObjectLimits> {
  if (limits === undefined) return DEFAULT_LIMITS
  if (limits === null || typeof limits !== 'object') throw invalidArgument('BpfObject.open', 'limits must be an object')
  const checked = { ...DEFAULT_LIMITS }
  for (const key of ['objectBytes', 'mapBytes'] as const) {
    const value = (limits as ObjectLimits)[key]
    if (value === undefined) continue
    if (typeof value !== 'number' || !(value > 0)) throw invalidArgument('BpfObject.open', `limits.${key} must be a positive number of bytes (Infinity for none)`)
    checked[key] = value
  }
  return checked
}

function checkOptions(options: unknown): OpenOptions {
  if (options === undefined) return {}
  if (options === null || typeof options !== 'object') throw invalidArgument('BpfObject.open', 'options must be an object')
  const o = options as OpenOptions
  for (const key of ['objectName', 'btfCustomPath'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') throw invalidArgument('BpfObject.open', `${key} must be a string`)
  }
  if (o.kernelLogLevel !== undefined && (!Number.isInteger(o.kernelLogLevel) || o.kernelLogLevel < 0)) {
    throw invalidArgument('BpfObject.open', 'kernelLogLevel must be a non-negative integer')
  }
  if (o.logger !== undefined && typeof o.logger !== 'function') throw invalidArgument('BpfObject.open', 'logger must be a function')
  if (o.extraBtf !== undefined && (!Array.isArray(o.extraBtf) || o.extraBtf.some((p) => typeof p !== 'string' || p === ''))) {
    throw invalidArgument('BpfObject.open', 'extraBtf must be an array of BTF file paths')
  }
  int64Of('BpfObject.open', o)
  return o
}

/**
 * A BPF object (`*.bpf.o`): open it, adjust it (autoload, maxEntries), load it into the kernel,
 * attach its programs and read its maps and ring buffers. close() releases everything it made.
 */
export class BpfObject implements Disposable, AsyncDisposable {
  readonly #handle: ObjectHandle
  readonly #children = new Set<Closable>()
  #programs: readonly BpfProgram[] | undefined
  #maps: readonly BpfMap[] | undefined
  #btf: Btf | null | undefined
  readonly #globals = new Map<string, Globals>()
  /** Maps opened with another int64 mode than the object's, by name. */
  readonly #variants = new Map<string, BpfMap>()
  readonly #int64: Int64Mode
  readonly #limits: Required<ObjectLimits>

  private constructor(handle: ObjectHandle, limits: Required<ObjectLimits>, int64: Int64Mode) {
    this.#handle = handle
    this.#limits = limits
    this.#int64 = int64
    // Made now: a map's BTF types are read at open (libbpf forgets some at load).
    void this.maps
  }

  /**
   * Opens an object from a path (a regular file) or from its bytes. Nothing reaches the kernel until
   * load().
   */
  static open(pathOrBytes: string | Uint8Array, options?: OpenOptions): BpfObject {
    if (typeof pathOrBytes !== 'string' && !(pathOrBytes instanceof Uint8Array)) {
      throw invalidArgument('BpfObject.open', 'expected a file path or the object bytes (Uint8Array)')
    }
    if (pathOrBytes.length === 0) throw invalidArgument('BpfObject.open', 'the path or bytes are empty')
    const o = checkOptions(options)
    const limits = checkLimits(o.limits)
    if (typeof pathOrBytes !== 'string' && pathOrBytes.length > limits.objectBytes) {
      throw new BpfError(`BpfObject.open: the object is ${pathOrBytes.length} bytes, more than limits.objectBytes (${limits.objectBytes})`, {
        code: 'E2BIG', op: 'BpfObject.open', hint: 'raise limits.objectBytes for an object you trust',
      })
    }
    const handle = new addon.BpfObject(pathOrBytes, {
      objectName: o.objectName,
      btfCustomPath: o.btfCustomPath,
      customBtf: o.extraBtf === undefined || o.extraBtf.length === 0 ? undefined : mergedBtf(o.btfCustomPath, o.extraBtf),
      objectBytes: limits.objectBytes,
      kernelLogLevel: o.kernelLogLevel,
      logLevel: levelNumber(o.logLevel, 'BpfObject.open'),
      logger: o.logger === undefined ? undefined : nativeLogger(o.logger),
    })
    return new BpfObject(handle, limits, int64Of('BpfObject.open', o))
  }

  get name(): string {
    return this.#handle.name
  }

  get state(): ObjectState {
    return this.#handle.state
  }

  /** Every program of the object, in ELF order. */
  get programs(): readonly BpfProgram[] {
    this.#programs ??= Object.freeze(this.#handle.programs().map((p) => new BpfProgram(p, (link, target) => this.#track(link, target))))
    return this.#programs
  }

  /** Every map of the object, including libbpf's internal ones for global data (`.rodata`, `.bss`…). */
  get maps(): readonly BpfMap[] {
    this.#maps ??= Object.freeze(this.#handle.maps().map((m) => new BpfMap(m, () => this.btf, undefined, (link, target) => this.#track(link, target),
      this.#int64)))
    return this.#maps
  }

  /** The object's BTF (its types, as compiled with -g), or undefined when it has none. */
  get btf(): Btf | undefined {
    if (this.#btf === undefined) {
      const handle = this.#handle.btf()
      this.#btf = handle === null ? null : Btf.copyOf(handle)
    }
    return this.#btf ?? undefined
  }

  /**
   * The global variables of a data section by name, typed by BTF: `.rodata` (`const volatile`),
   * `.data`, `.bss`, `.kconfig` or a custom `.data.*`/`.rodata.*`/`.bss.*` section. Set them before
   * load() to give initial values; after load, `.data`/`.bss` read and write the kernel's memory
   * directly (no syscall) and read-only sections throw on write.
   */
  globals(section: string): Globals {
    if (typeof section !== 'string') throw invalidArgument('BpfObject.globals', 'section must be a string such as ".rodata"')
    let globals = this.#globals.get(section)
    if (globals !== undefined) return globals
    const btf = this.btf
    const map = btf === undefined ? undefined : this.maps.find((m) => m.isInternal && m.handle.btfValueTypeId !== 0 &&
      btf.type(m.handle.btfValueTypeId).name === section)
    if (map === undefined || btf === undefined) {
      const sections = this.maps.filter((m) => m.isInternal && btf !== undefined && m.handle.btfValueTypeId !== 0)
        .map((m) => btf?.type(m.handle.btfValueTypeId).name).join(', ') || 'none'
      throw new BpfError(`BpfObject.globals: '${this.name}' has no ${section} section with BTF (sections: ${sections})`, {
        code: 'ENOENT',
        op: 'BpfObject.globals',
        hint: btf === undefined ? 'compile the object with -g so that it carries BTF' : undefined,
      })
    }
    globals = globalsOf(map.handle, btf, section, this.#int64)
    this.#globals.set(section, globals)
    return globals
  }

  /** `const volatile` globals: settable before load, read-only after. */
  get rodata(): Globals {
    return this.globals('.rodata')
  }

  /** Initialized globals, shared with the programs (reads and writes need no syscall after load). */
  get data(): Globals {
    return this.globals('.data')
  }

  /** Zero-initialized globals, shared with the programs (reads and writes need no syscall after load). */
  get bss(): Globals {
    return this.globals('.bss')
  }

  /** `extern … __kconfig` values libbpf filled in from the kernel's config (read-only). */
  get kconfig(): Globals {
    return this.globals('.kconfig')
  }

  /** The program named `name` (its C function name). */
  program(name: string): BpfProgram {
    return this.#find(this.programs, 'program', name)
  }

  /**
   * The map named `name`. With `{ int64 }` other than the object's, the same map decoding 64-bit
   * integers that way (one such BpfMap per map and mode).
   */
  map<K = any, V = any>(name: string, options?: MapOptions): BpfMap<K, V> {
    const map = this.#find(this.maps, 'map', name) as BpfMap<K, V>
    const int64 = options === undefined ? this.#int64 : int64Of('BpfObject.map', options)
    if (int64 === this.#int64 || (options as MapOptions).int64 === undefined) return map
    let variant = this.#variants.get(name)
    if (variant === undefined) {
      variant = new BpfMap(map.handle, () => this.btf, undefined, (link, target) => this.#track(link, target), int64)
      this.#variants.set(name, variant)
    }
    return variant as BpfMap<K, V>
  }

  /**
   * Creates the maps and loads the programs into the kernel (relocated against its BTF). Runs off
   * the JS thread; a program the verifier rejects makes it reject with a VerifierError.
   */
  async load(): Promise<void> {
    const caller = new Error()
    let loading: Array<{ name: string; type: string }> = []
    try {
      if (this.state === 'opened') checkMapBytes(this.maps, this.#limits.mapBytes)
      loading = this.programs.filter((program) => program.autoload).map((program) => ({ name: program.name, type: program.type }))
      await this.#handle.load()
    } catch (caught) {
      const error = explainLoadError(caught, loading)
      // The error was made on the event loop after the worker finished: give it the caller's stack.
      if (error instanceof Error && caller.stack !== undefined) {
        error.stack = `${error.name}: ${error.message}\n${caller.stack.split('\n').slice(1).join('\n')}`
      }
      throw error
    }
  }

  /**
   * Attaches every loaded program whose SEC() name says where (libbpf's auto-attach), and registers
   * every struct_ops map. The result is an array of the links (each says its `program` and `target`)
   * whose `skipped` lists the programs left alone and why: autoload off, or a section that names no
   * target (`SEC("xdp")` needs attachXdp(iface)). Any other failure detaches what was attached and throws.
   */
  attach(): Attachments {
    const links = new Attachments()
    try {
      for (const program of this.programs) {
        if (!program.autoload) {
          links.skipped.push({ program: program.name, section: program.section, reason: 'autoload is off' })
          continue
        }
        if (program.type === 'struct_ops') {
          links.skipped.push({ program: program.name, section: program.section, reason: 'a callback of a struct_ops map, which attaches it' })
          continue
        }
        try {
          links.push(program.attach())
        } catch (error) {
          if (!(error instanceof BpfError && error.code === 'EOPNOTSUPP')) throw error
          links.skipped.push({ program: program.name, section: program.section, reason: noTargetReason(program) })
        }
      }
      for (const map of this.maps) if (map.type === 'struct_ops') links.push(map.attachStructOps())
    } catch (error) {
      for (const link of links) link.close()
      throw error
    }
    return links
  }

  /**
   * Reads one ring buffer map, or several through one reader (each event then says which map it
   * came from: `{ map, event }`). Events are decoded by their BTF type — declared with
   * BPFKIT_RINGBUF, or named with `options.type` — else by `options.decoder`, else they are Buffers.
   */
  ringBuffer<T = any>(name: string, options?: RingBufferOptions<T>): RingBuffer<T>
  ringBuffer<T = any>(names: readonly string[], options?: RingBufferOptions<T>): RingBuffer<Tagged<T>>
  ringBuffer<T = any>(nameOrNames: string | readonly string[], options: RingBufferOptions<T> = {}): RingBuffer<T | Tagged<T>> {
    const op = 'ringBuffer'
    const names = typeof nameOrNames === 'string' ? [nameOrNames] : nameOrNames
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) {
      throw invalidArgument(op, 'expected a map name or a non-empty array of map names')
    }
    const sizes = readerOptions(op, options)
    const rings = names.map((name) => {
      const map = this.map(name)
      ensureRingBufferMap(map.type, name)
      return map
    })
    const int64 = options.int64 ?? this.#int64
    const types = rings.map((ring) => this.#recordType(ring.name, options, op, int64))
    const companions = {
      config: this.maps.find((m) => m.name === 'bpfkit_ringbuf_config'),
      dropped: this.maps.find((m) => m.name === 'bpfkit_ringbuf_dropped'),
    }
    const handle = new addon.RingBuffer(rings.map((r) => r.handle), sizes)
    let reader: RingBuffer<T | Tagged<T>> | undefined
    try {
      reader = new RingBuffer(handle, rings, types, options, companions, () => this.#children.delete(reader!))
    } catch (error) {
      handle.close()
      throw error
    }
    this.#children.add(reader)
    return reader
  }

  /**
   * Reads a perf event array (`bpf_perf_event_output`). Events are decoded by the type
   * BPFKIT_PERFBUF declared, or `options.type` (a BTF struct name), else by `options.decoder`, else
   * they are Buffers; each keeps its CPU (`withCpu: true` gives `{ cpu, event }`); lost samples are
   * counted per CPU.
   */
  perfBuffer<T = any>(name: string, options: PerfBufferOptions<T> & { withCpu: true }): PerfBuffer<OnCpu<T>>
  perfBuffer<T = any>(name: string, options?: PerfBufferOptions<T>): PerfBuffer<T>
  perfBuffer<T = any>(name: string, options: PerfBufferOptions<T> = {}): PerfBuffer<T | OnCpu<T>> {
    const op = 'perfBuffer'
    if (typeof name !== 'string') throw invalidArgument(op, 'expected a map name')
    const sizes = readerOptions(op, options)
    const pages = perfOptions(options)
    const map = this.map(name)
    ensurePerfEventArray(map.type, name)
    const type = this.#recordType(name, options, op, options.int64 ?? this.#int64)
    const handle = new addon.PerfBuffer(map.handle, { pages, ...sizes })
    let reader: PerfBuffer<T> | undefined
    try {
      reader = new PerfBuffer<T>(handle, map, type, options, () => this.#children.delete(reader!))
    } catch (error) {
      handle.close()
      throw error
    }
    this.#children.add(reader)
    return reader
  }

  /** Destroys the object's links and readers, then the object. Idempotent. */
  close(): void {
    for (const child of [...this.#children]) child.close()
    this.#children.clear()
    this.#handle.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  /** How a reader reads the records of map `name`. */
  #recordType(name: string, options: ReaderOptions<unknown>, op: string, int64: Int64Mode): RecordType {
    if (options.decoder !== undefined) return customRecord(options.decoder)
    const type = eventType(this.btf, name, options.type, op)
    return type === undefined ? rawRecord : typedRecord(this.btf!, type, int64)
  }

  #track(handle: LinkHandle, target: LinkTarget): Link {
    let link: Link | undefined
    link = new Link(handle, () => this.#children.delete(link as Link), target)
    this.#children.add(link)
    return link
  }

  #find<T extends { name: string }>(items: readonly T[], kind: string, name: string): T {
    if (typeof name !== 'string') throw invalidArgument(`BpfObject.${kind}`, 'name must be a string')
    const found = items.find((item) => item.name === name)
    if (found !== undefined) return found
    const available = items.map((item) => item.name).join(', ') || 'none'
    throw new BpfError(`BpfObject.${kind}: no ${kind} named '${name}' in '${this.name}' (available: ${available})`, {
      code: 'ENOENT',
      op: `BpfObject.${kind}`,
    })
  }
}

/** Why auto-attach cannot place a program, and the explicit method that can. */
function noTargetReason(program: BpfProgram): string {
  const section = `SEC("${program.section}") names no target`
  const type = program.type
  if (type === 'xdp') return `${section}: use attachXdp(iface)`
  if (type === 'sched_cls' || type === 'sched_act') return `${section}: use attachTc(iface, { direction })`
  if (type === 'socket_filter') return `${section}: use attachSocketFilter(socket)`
  if (type.startsWith('cgroup_') || type === 'sock_ops') return `${section}: use attachCgroup(path, { type })`
  if (type === 'perf_event') return `${section}: use attachPerfEvent({ type, config, samplePeriod })`
  if (type === 'kprobe') return `${section}: use attachUprobe, attachUsdt or attachKprobe with a target`
  if (type === 'tracepoint') return `${section}: use attachTracepoint(category, name)`
  if (type === 'raw_tracepoint') return `${section}: use attachRawTracepoint(name)`
  return `${section}: attach it with the program's explicit attach method`
}

/** A load that failed because the kernel lacks a program type says which program, not just EPERM/EINVAL. */
function explainLoadError(error: unknown, loading: ReadonlyArray<{ name: string; type: string }>): unknown {
  // Only what the kernel refused: not bpfkit's own refusals (a close() during the load, the limits).
  if (!(error instanceof BpfError) || error instanceof VerifierError || error.errno === undefined) return error
  // Without privileges every probe fails: then the probes say nothing about the kernel.
  if (!programTypeSupported('tracepoint')) return error
  const unsupported = loading.filter((program) => !programTypeSupported(program.type))
  if (unsupported.length === 0) return error
  const names = unsupported.map((program) => `'${program.name}' (${program.type})`).join(', ')
  return new BpfError(`${error.message.split('\n')[0]}: this kernel cannot load ${names}`, {
    code: error.code, errno: error.errno, op: error.op, cause: error,
    hint: `this kernel does not support that program type (see: bpfkit doctor); set program.autoload = false for ${unsupported.map((p) => p.name).join(', ')} to load the rest`,
  })
}

// Hash tables: a bucket per entry (rounded up to a power of two) and, preallocated, an element per
// entry with the kernel's header; every map: its entries' keys and values (per CPU where it has them).
const HASHES = new Set(['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash', 'hash_of_maps'])
const PER_CPU_VALUES = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage'])
const BPF_F_NO_PREALLOC = 1

/** What the kernel allocates when it creates `map`, roughly: enough to refuse a map of gigabytes. */
export function mapBytes(map: BpfMap): number {
  const entries = map.maxEntries
  const value = Math.ceil(map.valueSize / 8) * 8 * (PER_CPU_VALUES.has(map.type) ? addon.possibleCpus : 1)
  if (map.type === 'ringbuf' || map.type === 'user_ringbuf') return entries
  if (!HASHES.has(map.type)) return entries * (map.keySize + value)
  const buckets = 2 ** Math.ceil(Math.log2(Math.max(entries, 1))) * 16
  return buckets + ((map.mapFlags & BPF_F_NO_PREALLOC) !== 0 ? 0 : entries * (48 + Math.ceil(map.keySize / 8) * 8 + value))
}

/** Refuses, before BPF_MAP_CREATE, maps that together would take more than `limit` bytes. */
function checkMapBytes(maps: readonly BpfMap[], limit: number): void {
  const sizes = maps.map((map) => ({ map, bytes: mapBytes(map) }))
  const total = sizes.reduce((sum, { bytes }) => sum + bytes, 0)
  if (total <= limit) return
  const largest = sizes.sort((a, b) => b.bytes - a.bytes).slice(0, 3).map(({ map, bytes }) => `${map.name} ${mib(bytes)}`)
  throw new BpfError(`bpf_object__load: the maps would take about ${mib(total)} of kernel memory, more than limits.mapBytes (${mib(limit)}): ${largest.join(', ')}`, {
    code: 'E2BIG', op: 'bpf_object__load',
    hint: 'lower maxEntries before load(), or open an object you trust with a higher limits.mapBytes',
  })
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`
}
