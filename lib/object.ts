// BpfObject: a compiled BPF ELF object from open to close: its programs, maps, links and readers.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { addon, type LinkHandle, type ObjectHandle } from './native'
import { BpfError, VerifierError, invalidArgument, isInstance, optionsOf, reading } from './errors'
import { features, type AttachKind } from './probe'
import { levelNumber, nativeLogger, type Logger, type LogLevel } from './log'
import { BpfProgram } from './program'
import { BpfMap } from './map'
import { Attachments, Link, type LinkTarget } from './link'
import { UserRingBuffer, type UserRingBufferOptions } from './events/user-ring-buffer'
import { RingBuffer, ensureRingBufferMap, type RingBufferOptions } from './events/ring-buffer'
import { readerOptions, type OnCpu, type ReaderOptions, type Tagged } from './events/reader'
import { PerfBuffer, ensurePerfEventArray, perfOptions, type PerfBufferOptions } from './events/perf-buffer'
import { customRecord, eventType, rawRecord, typedRecord, type RecordType } from './events/decode'
import { Btf, charsOf, int64Of } from './btf/btf'
import type { CharFields, Int64Mode } from './btf/codec'
import { globalsOf, type Globals } from './globals'
import { nearMatches } from './elf'

export interface OpenOptions {
  /** Overrides the object's name (by default the file name without `.bpf.o`/`.o`). */
  objectName?: string | undefined
  /** BTF to relocate against instead of the running kernel's /sys/kernel/btf/vmlinux. */
  btfCustomPath?: string | undefined
  /**
   * BTF files to merge with the kernel's (or `btfCustomPath`'s) for relocation: a user-space
   * program's types (`pahole --btf_encode_detached`), so that uprobes read its structs by CO-RE.
   */
  extraBtf?: readonly string[] | undefined
  /** Verifier log level for every program (1 = basic, 2 = verbose, 4 = stats); 0 logs only on failure. */
  kernelLogLevel?: number | undefined
  /** Receives libbpf's messages for this object instead of the process-wide logger. */
  logger?: Logger | undefined
  /** The most detailed level passed to the logger (default: the process-wide level, 'warn'). */
  logLevel?: LogLevel | undefined
  /**
   * How the object's maps, globals and readers decode 64-bit integers: `'bigint'` (default, exact) or
   * `'number'` (exact below 2^53). `map(name, { int64 })` and each reader's option override it.
   */
  int64?: Int64Mode | undefined
  /**
   * Refusals that keep an object from an untrusted source from taking the process down, checked
   * before libbpf or the kernel does the work. Raise them for objects you trust that need more.
   */
  limits?: ObjectLimits | undefined
  /**
   * A directory on bpffs for the maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)`: load() pins
   * each there by its name, or reuses the map pinned there already (so objects, and restarts of one,
   * share it). A pinned map whose layout differs makes load() fail, naming both layouts.
   */
  pinRoot?: string | undefined
  /**
   * Maps to use instead of creating the object's own, by the object's map name: a loaded object's map,
   * one opened from a pin or by id, a created one, or a map fd (see map.reuse()).
   */
  maps?: Record<string, BpfMap | number> | undefined
}

/** Options of obj.attach(). */
export interface AttachOptions {
  /**
   * Attach what can be attached, and list each program that could not in the result's `failed` (with
   * its error) instead of throwing. Default false: any failure detaches the rest and throws, listing
   * every program that failed.
   */
  partial?: boolean | undefined
}

export interface ObjectLimits {
  /** The largest object file or byte array open() reads (default 256 MiB). */
  objectBytes?: number | undefined
  /**
   * The most kernel memory load() lets the object's maps take together, as estimated from their types,
   * sizes and maxEntries (default 1 GiB). A crafted object can declare maps that take gigabytes, or
   * minutes inside BPF_MAP_CREATE.
   */
  mapBytes?: number | undefined
}

/** Options of `obj.map(name, options)`. */
export interface MapOptions {
  /** How this map decodes 64-bit integers (default: the object's `int64`). */
  int64?: Int64Mode | undefined
  /** `char[N]` fields of its values to decode as bytes or as a list of strings, by path (see CodecOptions.chars). */
  chars?: CharFields | undefined
}

const DEFAULT_LIMITS: Required<ObjectLimits> = { objectBytes: 256 * 2 ** 20, mapBytes: 2 ** 30 }

export type ObjectState = 'opened' | 'loading' | 'loaded' | 'failed' | 'closed'

type Closable = { close(): void }

/** bpfkit.bpf.h's maps: its ring buffers' configuration and drop counts, not the program's own. */
const BPFKIT_MAPS: ReadonlySet<string> = new Set(['bpfkit_ringbuf_config', 'bpfkit_ringbuf_dropped'])

/** The kernel's (or `base`'s) BTF merged with `extras`, which the addon hands libbpf in a memfd. */
function mergedBtf(base: string | undefined, extras: readonly string[]): Uint8Array {
  return Btf.merge(base === undefined ? Btf.vmlinux() : Btf.parse(base), ...extras.map((file) => Btf.parse(file))).rawData()
}

function checkLimits(limits: unknown): Required<ObjectLimits> {
  if (limits === undefined) return DEFAULT_LIMITS
  if (limits === null || typeof limits !== 'object') throw invalidArgument('BpfObject.open', 'limits must be an object')
  const checked = { ...DEFAULT_LIMITS }
  for (const key of ['objectBytes', 'mapBytes'] as const) {
    const value = reading('BpfObject.open', `limits.${key}`, () => (limits as ObjectLimits)[key])
    if (value === undefined) continue
    if (typeof value !== 'number' || !(value > 0)) throw invalidArgument('BpfObject.open', `limits.${key} must be a positive number of bytes (Infinity for none)`)
    checked[key] = value
  }
  return checked
}

/** OpenOptions' names (the type keeps the record whole): open() refuses others. */
const OPEN_OPTIONS: Readonly<Record<keyof OpenOptions, true>> = {
  objectName: true, btfCustomPath: true, extraBtf: true, kernelLogLevel: true, logger: true, logLevel: true, int64: true,
  limits: true, pinRoot: true, maps: true,
}

function checkOptions(options: unknown): OpenOptions {
  const o = optionsOf('BpfObject.open', options as OpenOptions | undefined, OPEN_OPTIONS) ?? {}
  for (const key of ['objectName', 'btfCustomPath'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') throw invalidArgument('BpfObject.open', `${key} must be a string`)
  }
  if (o.kernelLogLevel !== undefined && (!Number.isInteger(o.kernelLogLevel) || o.kernelLogLevel < 0)) {
    throw invalidArgument('BpfObject.open', 'kernelLogLevel must be a non-negative integer')
  }
  if (o.logger !== undefined && typeof o.logger !== 'function') throw invalidArgument('BpfObject.open', 'logger must be a function')
  if (o.extraBtf !== undefined) {
    // A copy, read once: the checked paths are the ones used.
    const paths = reading('BpfObject.open', 'extraBtf', () => (Array.isArray(o.extraBtf) ? [...o.extraBtf] : undefined))
    if (paths === undefined || paths.some((p) => typeof p !== 'string' || p === '')) {
      throw invalidArgument('BpfObject.open', 'extraBtf must be an array of BTF file paths')
    }
    o.extraBtf = paths
  }
  if (o.pinRoot !== undefined) checkBpffs('BpfObject.open', 'pinRoot', o.pinRoot)
  if (o.maps !== undefined) {
    const maps = reading('BpfObject.open', 'maps', () => (o.maps !== null && typeof o.maps === 'object' ? Object.entries(o.maps) : undefined))
    if (maps === undefined || maps.some(([, m]) => !isInstance(m, BpfMap) && !(Number.isInteger(m) && (m as number) >= 0))) {
      throw invalidArgument('BpfObject.open', 'maps must be an object of BpfMaps or map fds by map name')
    }
    o.maps = Object.fromEntries(maps)
  }
  int64Of('BpfObject.open', o)
  return o
}

const BPF_FS_MAGIC = 0xcafe4a11

/**
 * Refuses a pin directory that is not on a bpffs mount (where pins cannot be made), before anything is
 * made: the directory, or the nearest one above it that exists (libbpf creates the rest).
 */
/** @internal Refuses `dir` (`what`, in the message) unless it is an absolute path on a bpffs mount, or would be once made. */
export function checkBpffs(op: string, what: string, dir: unknown): void {
  if (typeof dir !== 'string' || !path.isAbsolute(dir)) throw invalidArgument(op, `${what} must be an absolute path on bpffs`)
  let existing = dir
  while (!fs.existsSync(existing) && existing !== path.dirname(existing)) existing = path.dirname(existing)
  if (fs.statfsSync(existing).type !== BPF_FS_MAGIC) {
    throw invalidArgument(op, `${what} ${dir} is not on a bpffs mount`,
      'pins live on bpffs: use a directory under /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf if it is not mounted)')
  }
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
  #every: readonly BpfMap[] | undefined
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
    if (typeof pathOrBytes !== 'string' && !isInstance(pathOrBytes, Uint8Array)) {
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
      pinRoot: o.pinRoot,
      customBtf: o.extraBtf === undefined || o.extraBtf.length === 0 ? undefined : mergedBtf(o.btfCustomPath, o.extraBtf),
      objectBytes: limits.objectBytes,
      kernelLogLevel: o.kernelLogLevel,
      logLevel: levelNumber(o.logLevel, 'BpfObject.open'),
      logger: o.logger === undefined ? undefined : nativeLogger(o.logger),
    })
    const object = new BpfObject(handle, limits, int64Of('BpfObject.open', o))
    try {
      for (const [name, existing] of Object.entries(o.maps ?? {})) object.map(name).reuse(existing)
    } catch (error) {
      object.close()
      throw error
    }
    return object
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

  /**
   * Every map of the object, including libbpf's internal ones for global data (`.rodata`, `.bss`…), but
   * not the companions bpfkit.bpf.h adds for its ring buffers (`bpfkit_ringbuf_config`,
   * `bpfkit_ringbuf_dropped`), which `map(name)` still finds.
   */
  get maps(): readonly BpfMap[] {
    this.#maps ??= Object.freeze(this.#allMaps().filter((map) => !BPFKIT_MAPS.has(map.name)))
    return this.#maps
  }

  /** Every map, bpfkit.bpf.h's companions of its ring buffers too (obj.map() finds those by name). */
  #allMaps(): readonly BpfMap[] {
    this.#every ??= Object.freeze(this.#handle.maps().map((m) => new BpfMap(m, () => this.btf, undefined, (link, target) => this.#track(link, target), this.#int64)))
    return this.#every
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
   * The map named `name`. With `{ int64 }` other than the object's, or `{ chars }`, the same map
   * decoding its values that way (one such BpfMap per map and options).
   */
  map<K = any, V = any>(name: string, options?: MapOptions): BpfMap<K, V> {
    const op = 'BpfObject.map'
    const map = this.#find(this.#allMaps(), 'map', name) as BpfMap<K, V>
    options = optionsOf(op, options)
    if (options === undefined) return map
    const given = int64Of(op, options)
    const int64 = options.int64 === undefined ? this.#int64 : given
    const chars = charsOf(op, options)
    if (int64 === this.#int64 && chars.size === 0) return map
    const key = `${name} ${int64}${[...chars].map(([path, mode]) => ` ${path}=${mode}`).join('')}`
    let variant = this.#variants.get(key)
    if (variant === undefined) {
      // A path that names no char[N] field of the value is an error now, not at the first get().
      if (chars.size > 0 && this.btf !== undefined && map.handle.btfValueTypeId !== 0) this.btf.compiled(map.handle.btfValueTypeId, int64, chars)
      variant = new BpfMap(map.handle, () => this.btf, undefined, (link, target) => this.#track(link, target), int64, chars)
      this.#variants.set(key, variant)
    }
    return variant as BpfMap<K, V>
  }

  /**
   * Creates the maps and loads the programs into the kernel (relocated against its BTF). Runs off
   * the JS thread; a program the verifier rejects makes it reject with a VerifierError.
   */
  async load(): Promise<void> {
    const caller = new Error()
    let loading: Loading | undefined
    try {
      if (this.state === 'opened') {
        checkMapBytes(this.#allMaps(), this.#limits.mapBytes)
        checkSections(this.programs)
        this.#checkPinnedMaps()
        // What a failed load is explained with: the object takes no calls once it failed.
        loading = {
          programs: this.programs.map((p) => ({ name: p.name, section: p.section, type: p.type, kind: attachKindOf(p) })),
          maps: this.#allMaps().map((m) => ({ name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags })),
        }
      }
      await this.#handle.load()
    } catch (caught) {
      const error = loading === undefined ? caught : explainLoadError(caught, loading)
      // The error was made on the event loop after the worker finished: give it the caller's stack.
      if (error instanceof Error && caller.stack !== undefined) {
        error.stack = `${error.name}: ${error.message}\n${caller.stack.split('\n').slice(1).join('\n')}`
      }
      throw error
    }
  }

  /**
   * A map to be pinned where a map is pinned already is reused by load(): refuse one whose layout
   * differs, naming both (libbpf would say only EINVAL, and not look at the BTF).
   */
  #checkPinnedMaps(): void {
    for (const map of this.maps) {
      const pin = map.pinPath
      if (pin === null || !fs.existsSync(pin)) continue
      let pinned: BpfMap | undefined
      try {
        pinned = BpfMap.openPinned(pin)
      } catch {
        continue
      }
      try {
        const differences = map.differences(pinned)
        if (differences.length > 0) {
          throw new BpfError(`bpf_object__load: map '${map.name}' cannot reuse the map pinned at ${pin}: ${differences.join('; ')}`, {
            code: 'EINVAL', op: 'bpf_object__load', origin: 'bpfkit',
            hint: `the pinned map was made by another build of the program: remove the pin (rm ${pin}) to let load() make a new one, or pin this one elsewhere`,
          })
        }
      } finally {
        pinned.close()
      }
    }
  }

  /**
   * Attaches every loaded program whose SEC() name says where (libbpf's auto-attach), and registers
   * every struct_ops map. The result is an array of the links (each says its `program` and `target`)
   * whose `skipped` lists the programs
   * left alone and why: autoload off, or a section that names no target (`SEC("xdp")` needs
   * attachXdp(iface)). A program that fails to attach detaches the rest and throws a BpfError listing
   * every one that failed; with `{ partial: true }`, the rest stay attached and `failed` lists them.
   */
  attach(given?: AttachOptions): Attachments {
    const options = optionsOf('BpfObject.attach', given) ?? {}
    if (options.partial !== undefined && typeof options.partial !== 'boolean') throw invalidArgument('BpfObject.attach', 'partial must be a boolean')
    const links = new Attachments()
    const failed = (program: string, section: string, error: unknown, reason: () => string): void => {
      if (!(error instanceof BpfError) || error.code === 'ECLOSED' || error.code === 'EBADSTATE') {
        for (const link of links) link.close()
        throw error
      }
      links.failed.push({ program, section, error, reason: reason() })
    }
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
        // EOPNOTSUPP from auto-attach: the SEC() name has no target — unless it names one and the kernel
        // lacks that kind of attachment.
        const kind = attachKindOf(program)
        if (error instanceof BpfError && error.code === 'EOPNOTSUPP' && error.op === 'bpf_program__attach' &&
          (kind === undefined || features.attach(kind) || !program.section.includes('/'))) {
          links.skipped.push({ program: program.name, section: program.section, reason: noTargetReason(program) })
          continue
        }
        failed(program.name, program.section, error, () => attachFailure(program, error as BpfError))
      }
    }
    for (const map of this.maps) {
      if (map.type !== 'struct_ops') continue
      try {
        links.push(map.attachStructOps())
      } catch (error) {
        failed(map.name, '.struct_ops', error, () => `struct_ops map: ${(error as BpfError).message.split('\n')[0]!.replace(/^[^:]+: /, '')}`)
      }
    }
    if (links.failed.length > 0 && options.partial !== true) {
      for (const link of links) link.close()
      const [first] = links.failed
      const list = links.failed.map((f) => `${f.program} (${f.reason})`).join('; ')
      throw new BpfError(`BpfObject.attach: ${links.failed.length} of ${links.length + links.failed.length} programs could not attach: ${list}`, {
        code: first!.error.code, errno: first!.error.errno, op: 'BpfObject.attach', origin: first!.error.origin,
        cause: new AggregateError(links.failed.map((f) => f.error)),
        hint: `attach({ partial: true }) keeps the others attached and lists these in .failed; or set autoload = false for ${links.failed.map((f) => f.program).join(', ')} before load()`,
      })
    }
    return links
  }

  /**
   * A writer of a user ring buffer (BPF_MAP_TYPE_USER_RINGBUF): records written here are drained by
   * the object's programs with bpf_user_ringbuf_drain(). Records are encoded by their BTF type —
   * declared with BPFKIT_USER_RINGBUF, or named with `options.type` — else they are bytes.
   */
  userRingBuffer<T = any>(name: string, given?: UserRingBufferOptions): UserRingBuffer<T> {
    const op = 'userRingBuffer'
    if (typeof name !== 'string') throw invalidArgument(op, 'expected a map name')
    const options = optionsOf(op, given) ?? {}
    if (options.type !== undefined && (typeof options.type !== 'string' || options.type === '')) {
      throw invalidArgument(op, 'type must be the name of a BTF struct, e.g. "command"')
    }
    const map = this.map(name)
    if (map.type !== 'user_ringbuf') {
      throw invalidArgument(op, `map '${name}' is a ${map.type} map, not a user_ringbuf`, 'declare it with __uint(type, BPF_MAP_TYPE_USER_RINGBUF) or BPFKIT_USER_RINGBUF')
    }
    const type = eventType(this.btf, name, options.type, op)
    const handle = new addon.UserRingBuffer(map.handle)
    let writer: UserRingBuffer<T> | undefined
    writer = new UserRingBuffer<T>(handle, map, type === undefined ? undefined : this.btf!.codec(type), () => this.#children.delete(writer!))
    this.#children.add(writer)
    return writer
  }

  /**
   * Reads one ring buffer map, or several through one reader (each event then says which map it
   * came from: `{ map, event }`). Events are decoded by their BTF type — declared with
   * BPFKIT_RINGBUF, or named with `options.type` — else by `options.decoder`, else they are Buffers.
   * A map has one reader in the process: EBUSY while another reads it.
   */
  ringBuffer<T = any>(name: string, options?: RingBufferOptions<T>): RingBuffer<T>
  ringBuffer<T = any>(names: readonly string[], options?: RingBufferOptions<T>): RingBuffer<Tagged<T>>
  ringBuffer<T = any>(nameOrNames: string | readonly string[], given?: RingBufferOptions<T>): RingBuffer<T | Tagged<T>> {
    const op = 'ringBuffer'
    const names = reading(op, 'the map names', () => (typeof nameOrNames === 'string' ? [nameOrNames] : Array.isArray(nameOrNames) ? [...nameOrNames] : undefined))
    if (names === undefined || names.length === 0 || names.some((n) => typeof n !== 'string')) {
      throw invalidArgument(op, 'expected a map name or a non-empty array of map names')
    }
    const repeated = names.find((name, i) => names.indexOf(name) !== i)
    if (repeated !== undefined) throw invalidArgument(op, `map '${repeated}' is named twice: a reader reads each ring once`)
    const options = optionsOf(op, given) ?? {}
    const sizes = readerOptions(op, options)
    const rings = names.map((name) => {
      const map = this.map(name)
      ensureRingBufferMap(map.type, name)
      return map
    })
    const int64 = options.int64 ?? this.#int64
    const types = rings.map((ring) => this.#recordType(ring.name, options, op, int64))
    const companions = {
      config: this.#allMaps().find((m) => m.name === 'bpfkit_ringbuf_config'),
      dropped: this.#allMaps().find((m) => m.name === 'bpfkit_ringbuf_dropped'),
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
   * counted per CPU. A map has one reader in the process: EBUSY while another reads it.
   */
  perfBuffer<T = any>(name: string, options: PerfBufferOptions<T> & { withCpu: true }): PerfBuffer<OnCpu<T>>
  perfBuffer<T = any>(name: string, options?: PerfBufferOptions<T>): PerfBuffer<T>
  perfBuffer<T = any>(name: string, given?: PerfBufferOptions<T>): PerfBuffer<T | OnCpu<T>> {
    const op = 'perfBuffer'
    if (typeof name !== 'string') throw invalidArgument(op, 'expected a map name')
    const options = optionsOf(op, given) ?? {}
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

  /**
   * Destroys the object's links and readers, then the object. Idempotent. Called from a logger (while
   * libbpf is in the middle of a call on this object), it takes effect once that call has returned.
   */
  close(): void {
    // From a logger, while bpfkit is in the middle of a call on this object that libbpf logged from:
    // the call goes on using the object, so the close waits until it has returned.
    if (this.#handle.delivering) {
      queueMicrotask(() => this.close())
      return
    }
    // Every child, then the object, even when one of them throws (the first error goes on).
    let failed = false
    let failure: unknown
    for (const child of [...this.#children]) {
      try {
        child.close()
      } catch (error) {
        if (!failed) failure = error
        failed = true
      }
    }
    this.#children.clear()
    this.#handle.close()
    if (failed) throw failure
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
    return type === undefined ? rawRecord : typedRecord(this.btf!, type, int64, charsOf(op, options))
  }

  #track(handle: LinkHandle, target: LinkTarget): Link {
    let link: Link | undefined
    link = new Link(handle, () => this.#children.delete(link as Link), target, () => this.btf)
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

/** Why a program failed to attach, in a few words for the lists of attach(). */
function attachFailure(program: BpfProgram, error: BpfError): string {
  const kind = attachKindOf(program)
  if (kind !== undefined && !features.attach(kind)) return `this kernel cannot attach ${kind} programs (features.attach('${kind}') is false)`
  return `${program.section}: ${error.message.split('\n')[0]!.replace(/^[^:]+: /, '')}`
}

/** The attach kind a program's load or attach depends on, where a kernel may lack it. */
function attachKindOf(program: BpfProgram): AttachKind | undefined {
  const kinds: Record<string, AttachKind> = {
    trace_raw_tp: 'tp_btf', trace_fentry: 'fentry', trace_fexit: 'fexit', modify_return: 'fmod_ret', lsm_mac: 'lsm',
    trace_iter: 'iter', trace_kprobe_multi: 'kprobe_multi', trace_uprobe_multi: 'uprobe_multi',
  }
  const kind = kinds[program.expectedAttachType]
  if (kind !== undefined) return kind
  if (program.type === 'kprobe' && !/^u(ret)?probe|^usdt/.test(program.section)) return 'kprobe'
  return undefined
}

/** The object's programs and maps as they were before load(), for its errors. */
interface Loading {
  programs: Array<{ name: string; section: string; type: string; kind: AttachKind | undefined }>
  maps: Array<{ name: string; type: string; keySize: number; valueSize: number; maxEntries: number; flags: number }>
}

/** What the kernel refusing a map of this kind with this errno usually means. */
function mapHint(map: Loading['maps'][number], code: string): string | undefined {
  if (!features.mapType(map.type)) return `this kernel has no ${map.type} maps (see: bpfkit doctor); set map.autocreate = false and leave out the programs that use it`
  switch (code) {
    case 'EINVAL':
      return `the kernel refused the definition: check the key and value sizes for a ${map.type} map (before load: map.keySize, map.valueSize), maxEntries > 0, and its flags`
    case 'E2BIG':
      return 'maxEntries or the value size is over the kernel\'s limit for this map type: lower it before load()'
    case 'ENOMEM':
      return 'the kernel could not allocate it (memory is charged to the cgroup): lower maxEntries before load()'
    case 'EEXIST':
    case 'EBUSY':
      return 'a pin is in the way: remove it, or give the map another pinPath'
    default:
      return undefined
  }
}

/**
 * A failed load says whose fault it is: the map libbpf could not create or the program the kernel refused
 * (from libbpf's messages), with the verifier's log for a rejected program.
 */
// The first part of the SEC() names libbpf knows (its section_defs), for a misspelt one's hint.
const SECTION_KINDS = ['socket', 'sk_reuseport', 'kprobe', 'uprobe', 'kretprobe', 'uretprobe', 'kprobe.multi', 'kretprobe.multi',
  'kprobe.session', 'uprobe.multi', 'uretprobe.multi', 'ksyscall', 'kretsyscall', 'usdt', 'tc', 'tcx', 'netkit', 'classifier', 'action',
  'tracepoint', 'tp', 'raw_tracepoint', 'raw_tp', 'raw_tracepoint.w', 'raw_tp.w', 'tp_btf', 'fentry', 'fmod_ret', 'fexit', 'freplace',
  'lsm', 'lsm_cgroup', 'iter', 'syscall', 'xdp', 'perf_event', 'lwt_in', 'lwt_out', 'lwt_xmit', 'lwt_seg6local', 'sockops', 'sk_skb',
  'sk_msg', 'lirc_mode2', 'flow_dissector', 'cgroup_skb', 'cgroup', 'struct_ops', 'sk_lookup', 'netfilter']

/** Refuses, before load, a program whose SEC() gives libbpf no program type (libbpf would say only EINVAL). */
function checkSections(programs: readonly BpfProgram[]): void {
  const unknown = programs.find((p) => p.autoload && p.type === 'unspec')
  if (unknown === undefined) return
  const kind = unknown.section.split('/')[0]!
  const near = nearMatches(kind, SECTION_KINDS, 3)
  throw new BpfError(`bpf_object__load: program '${unknown.name}' has SEC("${unknown.section}"), which names no program type libbpf knows`, {
    code: 'EINVAL', op: 'bpf_object__load', origin: 'argument',
    hint: `${near.length > 0 ? `did you mean SEC("${near[0]}${unknown.section.slice(kind.length)}")? ` : ''}` +
      `the section names are libbpf's (docs.kernel.org/bpf/libbpf/program_types.html); or set program.type before load, or autoload = false`,
  })
}

function explainLoadError(error: unknown, object: Loading): unknown {
  // Only what the kernel or libbpf refused: not bpfkit's own refusals (a close() during the load, the checks).
  if (!(error instanceof BpfError) || error.errno === undefined) return error
  const { libbpfMessages: messages = [], verifierLogs: logs = {} } = error as BpfError & { libbpfMessages?: string[]; verifierLogs?: Record<string, string> }
  const reason = error.message.split('\n')[0]!.replace(/^bpf_object__load: /, '')
  for (const line of messages) {
    const mapFailure = /^libbpf: map '([^']+)': failed to create/.exec(line) ?? /map '([^']+)': failed to create/.exec(line)
    const map = mapFailure === null ? undefined : object.maps.find((m) => m.name === mapFailure[1])
    if (map !== undefined) {
      const what = `${map.type}, key ${map.keySize} B, value ${map.valueSize} B, ${map.maxEntries} entries${map.flags ? `, flags 0x${map.flags.toString(16)}` : ''}`
      return new BpfError(`bpf_object__load: map '${map.name}' (${what}) could not be created: ${reason}`, {
        code: error.code, errno: error.errno, op: 'bpf_object__load', cause: error, hint: mapHint(map, error.code),
      })
    }
    const programFailure = /prog '([^']+)': BPF program load failed/.exec(line)
    const program = programFailure === null ? undefined : object.programs.find((p) => p.name === programFailure[1])
    if (program !== undefined) {
      const log = logs[program.name]
      if (log !== undefined) {
        return new VerifierError(`bpf_object__load: program '${program.name}' rejected by the verifier: ${reason}`, {
          code: error.code, errno: error.errno, op: 'bpf_object__load', program: program.name, log, cause: error,
        })
      }
      const kind = program.kind
      const unsupported = kind !== undefined && !features.attach(kind) ? `${kind} programs` : !features.programType(program.type) ? `${program.type} programs` : undefined
      return new BpfError(`bpf_object__load: program '${program.name}' (SEC("${program.section}")) could not be loaded: ${reason}`, {
        code: error.code, errno: error.errno, op: 'bpf_object__load', cause: error,
        hint: unsupported === undefined ? undefined : `this kernel cannot load ${unsupported} (see: bpfkit doctor); set program.autoload = false for '${program.name}' to load the rest`,
      })
    }
  }
  // Anything else libbpf named (a CO-RE relocation, a missing kfunc or kconfig): its own words.
  const named = [...messages].reverse().find((line) => /(prog|map) '[^']+'/.test(line) && !/failed to load object/.test(line))
  if (named === undefined) return error
  return new BpfError(`bpf_object__load: ${named.replace(/^libbpf: /, '').trim()} (${reason})`, {
    code: error.code, errno: error.errno, op: 'bpf_object__load', cause: error,
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
  return buckets + ((map.flags & BPF_F_NO_PREALLOC) !== 0 ? 0 : entries * (48 + Math.ceil(map.keySize / 8) * 8 + value))
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
