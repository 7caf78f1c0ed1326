// BpfMap: one BPF map: its definition, typed access through its BTF, and raw byte access.
import { addon, type MapCreateSpec, type MapHandle, type MapScratch } from './native'
import { BpfError, describe, invalidArgument, isInstance, isU64, optionsOf, reading } from './errors'
import { Btf, charsOf, int64Of } from './btf/btf'
import { isCharArray, viewsOfBuffer, type CharsMode, type CompiledCodec, type Init, type Int64Mode } from './btf/codec'
import type { BtfType } from './btf/types'
import type { Link } from './link'
import { Slots, slotKind, type SlotValue } from './map-slots'
import type { LinkTracker } from './program'

/** Update flags, as in bpf_map_update_elem. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, LOCK: 4 } as const

/** `'any'` creates or replaces, `'noexist'` only creates, `'exist'` only replaces; or UpdateFlags bits. */
export type UpdateFlag = 'any' | 'noexist' | 'exist' | number

const FLAG_NAMES: Record<string, number> = { any: 0, noexist: 1, exist: 2 }

/** The kernel's view of a map (bpf_map_get_info_by_fd), as `bpftool map show` prints it. */
export interface MapInfo {
  id: number
  /** libbpf's name of the map type. */
  type: string
  /** The name the kernel knows (cut to 15 characters). */
  name: string
  keySize: number
  valueSize: number
  maxEntries: number
  /** BPF_F_* flags. */
  flags: number
  /** The kernel's id of the map's BTF (0: none), and the key's and value's type ids in it. */
  btfId: number
  btfKeyTypeId: number
  btfValueTypeId: number
}

/**
 * A type for BpfMap.create: a C type name in `btf` (`'u32'`, `'struct task_struct'`, `'struct event'`),
 * a type id of `btf`, or a type read from it (`btf.find('event', 'struct')`).
 */
export type TypeRef = string | number | BtfType

/** CreateMapOptions' names (the type keeps the record whole): create() refuses others. */
const CREATE_OPTIONS: Readonly<Record<keyof CreateMapOptions, true>> = {
  type: true, name: true, keySize: true, keyType: true, valueSize: true, valueType: true, maxEntries: true, flags: true,
  numaNode: true, mapExtra: true, innerMap: true, btf: true, int64: true,
}

export interface CreateMapOptions {
  /** libbpf's name of the map type: `hash`, `array`, `percpu_hash`, `prog_array`, `array_of_maps`, `user_ringbuf`… */
  type: string
  /** The kernel's name for it (at most 15 characters, as `bpftool map` shows it). */
  name?: string | undefined
  /** The key: its size in bytes, or its type in `btf` (then the map is typed). */
  keySize?: number | undefined
  keyType?: TypeRef | undefined
  /** The value: its size in bytes, or its type in `btf`. */
  valueSize?: number | undefined
  valueType?: TypeRef | undefined
  maxEntries: number
  /** BPF_F_* flags (BPF_F_NO_PREALLOC = 1, BPF_F_RDONLY_PROG = 128, BPF_F_INNER_MAP = 4096…). */
  flags?: number | undefined
  numaNode?: number | undefined
  /** The bloom filter's hash count, an arena's address… (map_extra). */
  mapExtra?: bigint | undefined
  /** Map-in-map: a map like those it will hold. */
  innerMap?: BpfMap | undefined
  /** Where `keyType` and `valueType` are (default: the running kernel's BTF). */
  btf?: Btf | undefined
  /** How the map decodes 64-bit integers (default `'bigint'`). */
  int64?: Int64Mode | undefined
}

const PER_CPU = new Set(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage'])
const ARRAYS = new Set(['array', 'percpu_array'])
// Batch chunk: entries per bpf_map_lookup_batch call while iterating.
const CHUNK = 4096

/** What a map is: its type, sizes, flags and BTF types (ids in the BTF it comes with). */
export interface MapDefinition {
  type: string
  keySize: number
  valueSize: number
  maxEntries: number
  flags: number
  btfKeyTypeId: number
  btfValueTypeId: number
}

/** What tells `theirs` apart from `mine`: sizes, flags and — where both have BTF — the layouts. */
function compareDefinitions(mine: MapDefinition, mineBtf: Btf | undefined, theirs: MapDefinition, theirsBtf: Btf | undefined): string[] {
  const found: string[] = []
  const compare = (what: string, a: unknown, b: unknown): void => {
    if (a !== b) found.push(`${what} ${String(b)}, not ${String(a)}`)
  }
  compare('type', mine.type, theirs.type)
  compare('key size', mine.keySize, theirs.keySize)
  compare('value size', mine.valueSize, theirs.valueSize)
  compare('maxEntries', mine.maxEntries, theirs.maxEntries)
  compare('flags', mine.flags, theirs.flags)
  for (const part of ['key', 'value'] as const) {
    const a = part === 'key' ? mine.btfKeyTypeId : mine.btfValueTypeId
    const b = part === 'key' ? theirs.btfKeyTypeId : theirs.btfValueTypeId
    if (a === 0 || b === 0 || mineBtf === undefined || theirsBtf === undefined) continue
    const layoutA = mineBtf.layout(a)
    const layoutB = theirsBtf.layout(b)
    if (layoutA !== layoutB) found.push(`${part} layout ${theirsBtf.typeName(b)} ${layoutB}, not ${mineBtf.typeName(a)} ${layoutA}`)
  }
  return found
}

/** Map types without keys: a created one needs no keySize. */
const KEYLESS = new Set(['queue', 'stack', 'bloom_filter', 'ringbuf', 'user_ringbuf'])

function u32(op: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalidArgument(op, 'expected a 32-bit unsigned integer')
  }
  return value
}

/** The id of a CreateMapOptions type in `btf`. */
function typeId(op: string, btf: Btf, ref: TypeRef, part: string): number {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref <= 0 || ref >= btf.count) throw invalidArgument(op, `${part}Type ${ref} is not a type id of the BTF`)
    return ref
  }
  if (typeof ref === 'object' && ref !== null && typeof (ref as BtfType).id === 'number') return typeId(op, btf, (ref as BtfType).id, part)
  if (typeof ref !== 'string' || ref.trim() === '') throw invalidArgument(op, `${part}Type must be a type name, a type id or a BtfType`)
  const [, kind, name] = /^(?:(struct|union|enum)\s+)?(\S+)$/.exec(ref.trim()) ?? []
  const found = name === undefined ? undefined : kind === undefined
    ? btf.find(name, 'typedef') ?? btf.find(name, 'int') ?? btf.find(name, 'struct') ?? btf.find(name, 'union') ?? btf.find(name, 'float')
    : btf.find(name, kind as 'struct') ?? (kind === 'enum' ? btf.find(name, 'enum64') : undefined)
  if (found === undefined) throw new BpfError(`${op}: the BTF has no type '${ref}'`, { code: 'ENOENT', op, origin: 'argument' })
  return found.id
}

function bytes(op: string, what: string, value: unknown): Uint8Array {
  if (!isInstance(value, Uint8Array)) throw invalidArgument(op, `${what} must be a Buffer or Uint8Array`)
  return value
}

function flagsOf(op: string, flags: UpdateFlag | undefined): number {
  // set()'s default first: a lookup in FLAG_NAMES costs a call per set().
  if (flags === 'any' || flags === undefined) return 0
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xffffffff) return flags
  if (typeof flags === 'string' && Object.hasOwn(FLAG_NAMES, flags)) return FLAG_NAMES[flags] as number
  throw invalidArgument(op, `flags must be 'any', 'noexist', 'exist' or UpdateFlags bits, got ${describe(flags)}`)
}

/** Lookup flags (BPF_F_LOCK): a 32-bit unsigned integer. */
function lookupFlags(op: string, flags: unknown): number {
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xffffffff) return flags
  throw invalidArgument(op, `flags must be a 32-bit unsigned integer, got ${describe(flags)}`)
}

/**
 * Raw access by bytes: every call checks the key and value sizes before the syscall. Per-CPU maps
 * take and return one 8-byte-aligned slot per possible CPU (`valueBytes`).
 */
export class RawMap {
  readonly #handle: MapHandle
  /**
   * The value's size once a lookup has succeeded (the map is loaded: it cannot change), or 0 for a
   * bloom filter, whose lookup() takes the value to look for: lookup() then allocates the value here.
   */
  #valueBytes: number | undefined

  /** @internal */
  constructor(handle: MapHandle) {
    this.#handle = handle
  }

  /**
   * The value bytes for `key` (null for queue and stack: peek), or undefined when there is none. The
   * Buffer is yours; like the Buffers of `fs` reads it may be a slice of Node's pool, so a typed
   * array over its `.buffer` starts at its `byteOffset`.
   */
  lookup(key: Uint8Array | null, flags = 0): Buffer | undefined {
    const k = key === null ? null : bytes('map.lookup', 'key', key)
    const f = lookupFlags('map.lookup', flags)
    const size = this.#valueBytes
    if (size === undefined || size === 0) {
      // Natively: it checks the map's state first (and knows a bloom filter).
      const value = this.#handle.lookup(k, f)
      this.#valueBytes ??= this.#handle.type === 'bloom_filter' ? 0 : this.#handle.valueBytes
      return value
    }
    // From Node's pool: a Buffer of its own (made natively, or a small one that native code then
    // moves off V8's heap) costs a malloc and a sweep, more than the syscall.
    const value = Buffer.allocUnsafe(size).fill(0)
    return this.#handle.lookup(k, f, value) ? value : undefined
  }

  /** Creates or replaces `key`'s value (null key: push onto a queue or stack, add to a bloom filter). */
  update(key: Uint8Array | null, value: Uint8Array, flags: UpdateFlag = 0): void {
    this.#handle.update(key === null ? null : bytes('map.update', 'key', key), bytes('map.update', 'value', value),
      flagsOf('map.update', flags))
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: Uint8Array): boolean {
    return this.#handle.delete(bytes('map.delete', 'key', key))
  }

  /** Looks up and deletes `key` (null: pop from a queue or stack). */
  lookupAndDelete(key: Uint8Array | null, flags = 0): Buffer | undefined {
    return this.#handle.lookupAndDelete(key === null ? null : bytes('map.lookupAndDelete', 'key', key), lookupFlags('map.lookupAndDelete', flags))
  }

  /** The key after `key` (the first key for null), or undefined at the end. */
  nextKey(key: Uint8Array | null): Buffer | undefined {
    return this.#handle.nextKey(key === null ? null : bytes('map.nextKey', 'key', key))
  }

  /** Every key, in the kernel's order. */
  *keys(): IterableIterator<Buffer> {
    for (let key = this.nextKey(null); key !== undefined; key = this.nextKey(key)) yield key
  }
}

/**
 * A BPF map. Maps declared with BTF key and value types (`__type(key, …)`, `__type(value, …)`) are
 * used with JS values, like a JS `Map`: `get`, `set`, `delete`, `has`, iteration, plus batch
 * operations. Per-CPU maps give one value per possible CPU. `raw` always offers byte access.
 *
 * `K` and `V` are the key and value types as decoded (for per-CPU maps, `V` is the array of per-CPU
 * values); generated skeletons fill them in.
 */
export class BpfMap<K = any, V = any> {
  /**
   * The BpfMaps over each handle (an object's map and its int64/chars variants): a key or value size
   * set through one resets the typed views of all, which were made for the old sizes.
   */
  static readonly #sharing = new WeakMap<MapHandle, Set<BpfMap>>()
  readonly #handle: MapHandle
  readonly #btf: () => Btf | undefined
  readonly #onClose: (() => void) | undefined
  readonly #int64: Int64Mode
  readonly #chars: ReadonlyMap<string, CharsMode> | undefined
  readonly #track: LinkTracker | undefined
  #typed: Typed | undefined
  /** The slot codec of a prog_array, map-in-map or sockmap; null once a map is known to be none. */
  #slots: Slots | null | undefined
  #inner: BpfMap | undefined
  #template: MapDefinition | undefined
  /** Byte-level access to the map's entries. */
  readonly raw: RawMap

  /** @internal Maps come from `BpfObject.maps`, `BpfObject.map` or `BpfMap.openPinned`. */
  constructor(handle: MapHandle, btf: () => Btf | undefined, onClose?: () => void, track?: LinkTracker, int64: Int64Mode = 'bigint',
    chars?: ReadonlyMap<string, CharsMode>) {
    this.#handle = handle
    this.#btf = btf
    this.#onClose = onClose
    this.#track = track
    this.#int64 = int64
    this.#chars = chars
    this.raw = new RawMap(handle)
    const sharing = BpfMap.#sharing.get(handle) ?? new Set<BpfMap>()
    BpfMap.#sharing.set(handle, sharing.add(this))
    // libbpf frees a map-in-map's template at load: its definition is kept from open.
    if (slotKind(handle.type) === 'map') this.#template = handle.innerMap() ?? undefined
  }

  /**
   * Opens a map pinned on bpffs (by this or any other program). It is typed when it was created with
   * BTF, raw otherwise; `int64: 'number'` decodes its 64-bit integers as numbers. close() releases it.
   */
  static openPinned<K = any, V = any>(path: string, options?: { int64?: Int64Mode }): BpfMap<K, V> {
    if (typeof path !== 'string' || path === '') throw invalidArgument('BpfMap.openPinned', 'expected a path on bpffs')
    const int64 = int64Of('BpfMap.openPinned', optionsOf('BpfMap.openPinned', options))
    return BpfMap.#own(new addon.BpfMap({ pinned: path }), int64)
  }

  /** Opens a map by its id (as `bpftool map list` and `bpfkit ps` show it); typed when it has BTF. */
  static fromId<K = any, V = any>(id: number, options?: { int64?: Int64Mode }): BpfMap<K, V> {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw invalidArgument('BpfMap.fromId', 'expected a map id (a positive integer)')
    const int64 = int64Of('BpfMap.fromId', optionsOf('BpfMap.fromId', options))
    return BpfMap.#own(new addon.BpfMap({ id }), int64)
  }

  /** A map from a file descriptor (duplicated: the caller keeps its own); typed when it has BTF. */
  static fromFd<K = any, V = any>(fd: number, options?: { int64?: Int64Mode }): BpfMap<K, V> {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw invalidArgument('BpfMap.fromFd', 'expected a file descriptor')
    const int64 = int64Of('BpfMap.fromFd', optionsOf('BpfMap.fromFd', options))
    return BpfMap.#own(new addon.BpfMap({ fd }), int64)
  }

  /**
   * Creates a map of its own, without an object (bpf_map_create). With `keyType`/`valueType` from a
   * Btf (the kernel's by default) it is typed: those types go to the kernel with the map, so it stays
   * typed wherever it is opened (a pin, an id). close() releases it; pin it to keep it.
   */
  static create<K = any, V = any>(given: CreateMapOptions): BpfMap<K, V> {
    const op = 'BpfMap.create'
    if (given === undefined) throw invalidArgument(op, 'options must be an object, got undefined')
    const options = optionsOf(op, given, CREATE_OPTIONS) as CreateMapOptions
    const { type, name, maxEntries, innerMap } = options
    if (typeof type !== 'string' || type === '') throw invalidArgument(op, "type must be a map type such as 'hash'")
    if (name !== undefined && (typeof name !== 'string' || name.length > 15 || !/^[A-Za-z0-9_.]*$/.test(name))) {
      throw invalidArgument(op, 'name must be at most 15 letters, digits, _ or .')
    }
    const count = (what: string, value: unknown, min: number): number => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 0xffffffff) {
        throw invalidArgument(op, `${what} must be an integer from ${min} to 2^32-1`)
      }
      return value
    }
    if (innerMap !== undefined && !isInstance(innerMap, BpfMap)) throw invalidArgument(op, 'innerMap must be a BpfMap')
    if (options.mapExtra !== undefined && !isU64(options.mapExtra)) {
      throw invalidArgument(op, 'mapExtra must be a 64-bit unsigned bigint')
    }
    const typed = options.keyType !== undefined || options.valueType !== undefined
    if (options.btf !== undefined && !(options.btf instanceof Btf)) throw invalidArgument(op, 'btf must be a Btf')
    const btf = typed ? options.btf ?? Btf.vmlinux() : undefined
    const side = (part: 'key' | 'value'): { size: number; id: number } => {
      const size = part === 'key' ? options.keySize : options.valueSize
      const ref = part === 'key' ? options.keyType : options.valueType
      if (ref === undefined) return { size: count(`${part}Size`, size ?? (part === 'key' && KEYLESS.has(type) ? 0 : undefined), 0), id: 0 }
      const id = typeId(op, btf!, ref, part)
      const bytes = btf!.sizeOf(id)
      if (size !== undefined && size !== bytes) {
        throw invalidArgument(op, `${part}Size ${String(size)} does not match ${part}Type ${btf!.typeName(id)} (${bytes} bytes)`)
      }
      return { size: bytes, id }
    }
    const key = side('key')
    const value = side('value')
    // What the kernel refuses (a bare EINVAL), refused here with why: BTF types on a queue or stack
    // (their map type cannot check them), and a key type without a value type or the reverse.
    if (typed && (type === 'queue' || type === 'stack')) {
      throw invalidArgument(op, `a ${type} cannot carry BTF types: the kernel takes none with it`,
        'create it with valueSize and no types, and encode and decode its values with a codec: btf.codec(btf.find(name)!.id)')
    }
    if (typed && type !== 'bloom_filter' && (options.keyType === undefined || options.valueType === undefined)) {
      throw invalidArgument(op, `keyType and valueType go together: the kernel keeps a map's BTF types as a pair`,
        `give ${options.keyType === undefined ? 'keyType' : 'valueType'} too (a Btf's type name or id), or neither`)
    }
    const spec: MapCreateSpec = {
      type,
      name,
      keySize: key.size,
      valueSize: value.size,
      maxEntries: count('maxEntries', maxEntries, 0),
      flags: options.flags === undefined ? 0 : count('flags', options.flags, 0),
      numaNode: options.numaNode === undefined ? 0 : count('numaNode', options.numaNode, 0),
      mapExtra: options.mapExtra,
      innerMap: innerMap?.handle,
    }
    if (btf !== undefined) Object.assign(spec, { btf: btf.native(op), keyTypeId: key.id, valueTypeId: value.id })
    return BpfMap.#own(new addon.BpfMap({ create: spec }), int64Of(op, options))
  }

  /** Every map in the kernel, system-wide (what `bpftool map list` shows). */
  static list(): MapInfo[] {
    return addon.listMaps()
  }

  /** A map holding its own fd, typed from the BTF the kernel keeps with it. */
  static #own<K, V>(handle: MapHandle, int64: Int64Mode): BpfMap<K, V> {
    let btf: Btf | undefined | null = null
    return new BpfMap<K, V>(handle, () => {
      if (btf === null) btf = handle.btfId === 0 ? undefined : Btf.fromKernel(handle.btfId)
      return btf
    }, undefined, undefined, int64)
  }

  /** How the map decodes 64-bit integers. */
  get int64(): Int64Mode {
    return this.#int64
  }

  /** @internal The native handle, for ring buffers over this map. */
  get handle(): MapHandle {
    return this.#handle
  }

  get name(): string {
    return this.#handle.name
  }

  /** libbpf's name of the map type, e.g. `hash`, `ringbuf`, `percpu_array`. */
  get type(): string {
    return this.#handle.type
  }

  /** Bytes of a key. Settable before load, where libbpf allows it (bpf_map__set_key_size). */
  get keySize(): number {
    return this.#handle.keySize
  }

  set keySize(value: number) {
    this.#handle.keySize = u32('map.keySize', value)
    this.#sizesChanged()
  }

  /**
   * Bytes of a value. Settable before load (bpf_map__set_value_size): a stack trace map's depth, a
   * global data section's last array.
   */
  get valueSize(): number {
    return this.#handle.valueSize
  }

  set valueSize(value: number) {
    this.#handle.valueSize = u32('map.valueSize', value)
    this.#sizesChanged()
  }

  #sizesChanged(): void {
    for (const map of BpfMap.#sharing.get(this.#handle) ?? []) {
      map.#typed = undefined
      map.#slots = undefined
    }
  }

  /** Bytes of one value as lookups return it: valueSize, or one aligned slot per CPU for per-CPU maps. */
  get valueBytes(): number {
    return this.#handle.valueBytes
  }

  /** Capacity (for ring buffers: bytes). Settable before load. */
  get maxEntries(): number {
    return this.#handle.maxEntries
  }

  set maxEntries(value: number) {
    if (!Number.isInteger(value) || value <= 0 || value > 0xffffffff) {
      throw invalidArgument('map.maxEntries', 'maxEntries must be a positive 32-bit integer')
    }
    this.#handle.maxEntries = value
  }

  /** The BPF_F_* flags the map was declared with (BPF_F_NO_PREALLOC = 1…). Settable before load. */
  get flags(): number {
    return this.#handle.flags
  }

  set flags(value: number) {
    this.#handle.flags = u32('map.flags', value)
  }

  /** The NUMA node to allocate the map on (with BPF_F_NUMA_NODE). Settable before load. */
  get numaNode(): number {
    return this.#handle.numaNode
  }

  set numaNode(value: number) {
    this.#handle.numaNode = u32('map.numaNode', value)
  }

  /** map_extra: a bloom filter's hash count, an arena's address. Settable before load. */
  get mapExtra(): bigint {
    return this.#handle.mapExtra
  }

  set mapExtra(value: bigint) {
    if (!isU64(value)) throw invalidArgument('map.mapExtra', 'mapExtra must be a 64-bit unsigned bigint')
    this.#handle.mapExtra = value
  }

  /** Whether load() creates the map; false leaves it out (programs that use it must not load). Settable before load. */
  get autocreate(): boolean {
    return this.#handle.autocreate
  }

  set autocreate(value: boolean) {
    if (typeof value !== 'boolean') throw invalidArgument('map.autocreate', 'autocreate must be a boolean')
    this.#handle.autocreate = value
  }

  /**
   * Map-in-map: what its inner maps are like — the declaration's (`__array(values, struct inner)`), or
   * that of the map set here before load (libbpf's bpf_map__set_inner_map_fd); null for other maps, and
   * for a map-in-map opened from a pin or by id (the kernel does not say).
   */
  get innerMap(): MapDefinition | null {
    return this.#inner?.definition() ?? this.#template ?? null
  }

  set innerMap(map: BpfMap) {
    if (!isInstance(map, BpfMap)) throw invalidArgument('map.innerMap', 'expected a BpfMap (created or loaded) like the inner maps')
    this.#handle.setInnerMap(map.handle)
    this.#inner = map
  }

  /** @internal This map's definition, for comparisons. */
  definition(): MapDefinition {
    return {
      type: this.type, keySize: this.keySize, valueSize: this.valueSize, maxEntries: this.maxEntries, flags: this.flags,
      btfKeyTypeId: this.#handle.btfKeyTypeId, btfValueTypeId: this.#handle.btfValueTypeId,
    }
  }

  /**
   * @internal What a program could tell apart if `other` stood for an inner map of this map-in-map
   * (see differences()); empty when there is no template to compare with.
   */
  innerDifferences(other: BpfMap): string[] {
    const template = this.innerMap
    if (template === null) return []
    const btf = this.#inner?.btf ?? this.#btf()
    return compareDefinitions(template, btf, other.definition(), other.btf)
  }

  /** The kernel's view of the map: id, type, sizes, flags, BTF ids. */
  info(): MapInfo {
    return this.#handle.info()
  }

  /** Whether libbpf made this map for a global data section (.rodata, .data, .bss…). */
  get isInternal(): boolean {
    return this.#handle.isInternal
  }

  get fd(): number {
    return this.#handle.fd
  }

  /** The kernel's id of the map (as bpftool map shows it). */
  get id(): number {
    return this.#handle.id
  }

  /** Whether the map's values are per CPU (one per possible CPU). */
  get perCpu(): boolean {
    return PER_CPU.has(this.type)
  }

  /** The BTF describing the map's key and value, when it has one. */
  get btf(): Btf | undefined {
    return this.#btf()
  }

  /** The BTF type of the key (undefined for a raw map or a map without keys). */
  get keyType(): BtfType | undefined {
    const id = this.#handle.btfKeyTypeId
    return id === 0 ? undefined : this.#btf()?.type(id)
  }

  /** The BTF type of the value (undefined for a raw map). */
  get valueType(): BtfType | undefined {
    const id = this.#handle.btfValueTypeId
    return id === 0 ? undefined : this.#btf()?.type(id)
  }

  /** Whether the map has BTF types, so that get/set take JS values. */
  get isTyped(): boolean {
    return this.#handle.btfValueTypeId !== 0 && (this.#handle.btfKeyTypeId !== 0 || this.keySize === 0) &&
      this.#btf() !== undefined
  }

  /**
   * The value for `key`, or undefined. For per-CPU maps: an array with one value per possible CPU. For
   * a prog_array or a map-in-map: the id of the program or map in the slot; a sockmap: the socket's cookie.
   */
  get(key: Init<K>, flags = 0): V | undefined {
    const slots = this.#slotsOf()
    if (slots !== undefined) return slots.get(key) as V | undefined
    const t = this.#keyed('map.get')
    const f = lookupFlags('map.get', flags)
    t.encodeKey(key)
    if (!(f === 0 ? t.scratch.lookup() : t.scratch.lookup(f))) return undefined
    return t.readValue() as V
  }

  /**
   * Creates or replaces `key`'s value. Omitted fields are zero. Per-CPU maps take one value (for every
   * CPU) or an array of exactly one value per possible CPU. A prog_array takes a loaded BpfProgram (the
   * target of bpf_tail_call), a map-in-map a BpfMap like its inner-map template, a sockmap a socket.
   */
  set(key: Init<K>, value: Init<V> | Init<ElementOf<V>> | SlotValue, flags: UpdateFlag = 'any'): this {
    const f = flagsOf('map.set', flags)
    const slots = this.#slotsOf()
    if (slots !== undefined) {
      slots.set(key, value, f)
      return this
    }
    const t = this.#keyed('map.set')
    t.encodeKey(key)
    t.writeValue(value)
    if (f === 0) t.scratch.update()
    else t.scratch.update(f)
    return this
  }

  /** Deletes `key`; false when it was not there. Array maps cannot delete (EINVAL): use set. */
  delete(key: Init<K>): boolean {
    const slots = this.#slotsOf()
    if (slots !== undefined) return this.#handle.delete(slots.encodeKey('map.delete', key))
    const t = this.#deletable('map.delete')
    t.encodeKey(key)
    return t.scratch.delete()
  }

  /** Whether `key` has a value; for a bloom filter, whether `key` (a value) may have been added. */
  has(key: Init<K> | Init<V>): boolean {
    const slots = this.#slotsOf()
    if (slots !== undefined) return slots.get(key) !== undefined
    const t = this.#types('map.has')
    if (t.type === 'bloom_filter') {
      t.writeValue(key)
      return t.scratch.lookup()
    }
    this.#keyed('map.has').encodeKey(key as K)
    return t.scratch.lookup()
  }

  /** Every key (batched where the kernel can). */
  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key
  }

  /** Every value (batched where the kernel can). */
  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value
  }

  /**
   * Every entry, read in batches with bpf_map_lookup_batch where the map type has it (one syscall per
   * few thousand entries), else key by key. Entries changed meanwhile may or may not be seen.
   */
  *entries(): IterableIterator<[K, V]> {
    const slots = this.#slotsOf()
    if (slots !== undefined) {
      yield* slots.entries() as IterableIterator<[K, V]>
      return
    }
    const t = this.#keyed('map.entries')
    const entries: Array<[K, V]> = []
    for (const chunk of this.#chunks(t, false)) {
      entries.length = 0
      t.appendEntries(chunk.keys, chunk.values, chunk.count, entries)
      yield* entries
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries()
  }

  /** Number of entries (counted by iterating). */
  count(): number {
    const slots = this.#slotsOf()
    if (slots !== undefined) return [...slots.entries()].length
    const t = this.#keyed('map.count')
    let n = 0
    for (const chunk of this.#chunks(t, false)) n += chunk.count
    return n
  }

  /**
   * Without keys: every entry, read with the kernel's batch lookup. With keys: the value of each
   * (undefined where there is none).
   */
  getMany(): Array<[K, V]>
  getMany(keys: Iterable<Init<K>>): Array<V | undefined>
  getMany(keys?: Iterable<Init<K>>): Array<[K, V]> | Array<V | undefined> {
    if (keys === undefined) {
      const slots = this.#slotsOf()
      if (slots !== undefined) return [...slots.entries()] as Array<[K, V]>
      const t = this.#keyed('map.getMany')
      const all: Array<[K, V]> = []
      for (const chunk of this.#chunks(t, false)) t.appendEntries(chunk.keys, chunk.values, chunk.count, all)
      return all
    }
    return this.#list('map.getMany', keys).map((key) => this.get(key))
  }

  /**
   * Sets many entries with one bpf_map_update_batch call where the map type has it (else one update
   * each). Every key and value is encoded (and checked) before anything is written. With 'noexist' or
   * 'exist', which the kernel's batch update does not take, entries are set one by one: one that fails
   * (EEXIST, ENOENT) leaves those before it set.
   */
  setMany(entries: Iterable<readonly [Init<K>, Init<V> | Init<ElementOf<V>> | SlotValue]>, flags: UpdateFlag = 'any'): void {
    const f = flagsOf('map.setMany', flags)
    const slots = this.#slotsOf()
    if (slots !== undefined) {
      slots.setMany(this.#list('map.setMany', entries), f)
      return
    }
    const t = this.#keyed('map.setMany')
    const list = this.#list('map.setMany', entries)
    const [keys, values] = split(list.length * t.keySize, list.length * t.valueBytes)
    t.encodeEntries(list, keys, values)
    if (list.length === 0) return
    // The batch update takes BPF_F_LOCK only, as elem_flags.
    const batchable = (f & (FLAG_NAMES.noexist | FLAG_NAMES.exist)) === 0
    if (batchable && this.#handle.updateBatch(keys, values, list.length, f) !== null) return
    for (let i = 0; i < list.length; i++) {
      this.#handle.update(keys.subarray(i * t.keySize, (i + 1) * t.keySize),
        values.subarray(i * t.valueBytes, (i + 1) * t.valueBytes), f)
    }
  }

  /**
   * Deletes many keys with bpf_map_delete_batch where the map type has it (else one by one). Keys that
   * are not there are skipped. Returns how many were deleted.
   */
  deleteMany(keys: Iterable<Init<K>>): number {
    const slots = this.#slotsOf()
    if (slots !== undefined) {
      // Every key checked before any is deleted, as for other maps.
      const encoded = this.#list('map.deleteMany', keys).map((key) => slots.encodeKey('map.deleteMany', key))
      return encoded.filter((key) => this.#handle.delete(key)).length
    }
    const t = this.#deletable('map.deleteMany')
    const list = this.#list('map.deleteMany', keys)
    const buffer = Buffer.alloc(list.length * t.keySize)
    t.keyCodec.encodeMany(list, buffer, 0, t.keySize, (i) => `keys[${i}]`)
    return this.#deleteKeys(t, buffer, list.length)
  }

  /**
   * Empties the map. Hash-like maps delete every entry (drained with bpf_map_lookup_and_delete_batch
   * where possible); array maps, which cannot delete, set every element to zero.
   */
  clear(): void {
    const slots = this.#slotsOf()
    if (slots !== undefined) {
      // Slots empty with delete, arrays of them too (a prog_array, an array of maps).
      slots.clear()
      return
    }
    const t = this.#keyed('map.clear')
    if (ARRAYS.has(this.type)) {
      // In chunks, so that a big per-CPU array does not need all its zeros at once.
      const [keys, zeros] = split(CHUNK * 4, CHUNK * t.valueBytes)
      for (let first = 0; first < this.maxEntries; first += CHUNK) {
        const n = Math.min(CHUNK, this.maxEntries - first)
        for (let i = 0; i < n; i++) keys.writeUInt32LE(first + i, i * 4)
        if (this.#handle.updateBatch(keys, zeros, n, 0) !== null) continue
        for (let i = 0; i < n; i++) this.#handle.update(keys.subarray(i * 4, i * 4 + 4), zeros.subarray(0, t.valueBytes), 0)
      }
      return
    }
    for (const chunk of this.#chunks(t, true)) {
      if (chunk.deleted) continue
      this.#deleteKeys(t, chunk.keys, chunk.count)
    }
  }

  /** Queue or stack: adds `value` (`flags` 'exist' replaces the oldest when full). Bloom filter: see add(). */
  push(value: Init<V>, flags: UpdateFlag = 'any'): void {
    const t = this.#keyless('map.push')
    const f = flagsOf('map.push', flags)
    t.writeValue(value)
    t.scratch.update(f)
  }

  /** Queue or stack: removes and returns the next value, or undefined when empty. */
  pop(): V | undefined {
    const t = this.#keyless('map.pop')
    const value = this.#handle.lookupAndDelete(null)
    return value === undefined ? undefined : (t.decodeValue(value, 0) as V)
  }

  /** Queue or stack: the next value without removing it, or undefined when empty. */
  peek(): V | undefined {
    const t = this.#keyless('map.peek')
    return t.scratch.lookup() ? (t.readValue() as V) : undefined
  }

  /** Bloom filter: adds `value`; has(value) is then true (and may be true for values never added). */
  add(value: Init<V>): void {
    const t = this.#types('map.add')
    if (t.type !== 'bloom_filter') throw invalidArgument('map.add', `'${this.name}' is a ${t.type} map, not a bloom filter`)
    t.writeValue(value)
    t.scratch.update()
  }

  /**
   * Registers a struct_ops map (a TCP congestion control, a sched_ext scheduler…) with the kernel: its
   * callbacks, the object's `SEC("struct_ops/…")` programs, run until the link is closed. A map of
   * `SEC(".struct_ops.link")` gives a BPF link (Linux ≥ 6.4) that can be pinned.
   */
  attachStructOps(): Link {
    if (this.#track === undefined) throw invalidArgument('map.attachStructOps', 'only the struct_ops maps of an object attach')
    return this.#track(this.#handle.attachStructOps(), { program: this.name, target: `struct_ops ${this.name}` })
  }

  /** Pins the map on bpffs, so it outlives this process (BpfMap.openPinned opens it again). */
  pin(path: string): void {
    if (typeof path !== 'string' || path === '') throw invalidArgument('map.pin', 'expected a path on bpffs')
    this.#handle.pin(path)
  }

  /** Removes the pin made by pin(). */
  unpin(): void {
    this.#handle.unpin()
  }

  /** Where the map is pinned (by pin(), or at load() by setting pinPath), or null. */
  get pinPath(): string | null {
    return this.#handle.pinPath
  }

  /**
   * Before load(): pins the map at `path` (on bpffs) as load() creates it, or — when a map is pinned
   * there already and has the same definition — uses that map instead, so that its contents carry on
   * across runs (libbpf's bpf_map__set_pin_path). A pinned map that differs makes load() fail with
   * EINVAL: compare first with `differences(BpfMap.openPinned(path))`. `null` clears it.
   */
  set pinPath(path: string | null) {
    if (path !== null && (typeof path !== 'string' || path === '')) throw invalidArgument('map.pinPath', 'expected a path on bpffs, or null')
    this.#handle.pinPath = path
  }

  /**
   * Before load(): the object uses `existing` (a loaded object's map, one opened from a pin or by id, a
   * created one, or a map's fd) instead of creating this map, so that programs of both share its entries
   * (libbpf's bpf_map__reuse_fd). Throws EINVAL, naming both layouts, when the two differ (see differences()).
   */
  reuse(existing: BpfMap | number): void {
    const op = 'map.reuse'
    if (typeof existing === 'number') {
      const map = BpfMap.fromFd(existing)
      try {
        this.reuse(map)
      } finally {
        map.close()
      }
      return
    }
    if (!isInstance(existing, BpfMap)) throw invalidArgument(op, 'expected a BpfMap or a map fd')
    const differences = this.differences(existing)
    if (differences.length > 0) {
      throw invalidArgument(op, `map '${existing.name}' cannot stand for '${this.name}': ${differences.join('; ')}`,
        'the object was built with another definition of this map: rebuild one of them, or let load() create a new map')
    }
    this.#handle.reuse(existing.handle)
  }

  /**
   * What a program could tell apart if `other` stood for this map: the type, key and value sizes,
   * maxEntries, flags, and — when both have BTF — the layout of key and value (field names, offsets,
   * sizes). Empty when `other` can be reused as this map.
   */
  differences(other: BpfMap): string[] {
    if (!isInstance(other, BpfMap)) throw invalidArgument('map.differences', 'expected a BpfMap')
    return compareDefinitions(this.definition(), this.btf, other.definition(), other.btf)
  }

  /** Makes the map read-only for user space (bpf_map_freeze); BPF programs can still write it. */
  freeze(): void {
    this.#handle.freeze()
  }

  /** Closes a map opened with openPinned (an object's maps close with the object). Idempotent. */
  close(): void {
    this.#handle.close()
    this.#onClose?.()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** Prog arrays, map-in-maps and sockmaps: their values are programs, maps and sockets. */
  #slotsOf(): Slots | undefined {
    // Cached either way: the type is a native call that makes a string (it cost get() and set() half their time).
    if (this.#slots !== undefined) return this.#slots ?? undefined
    const kind = slotKind(this.type)
    if (kind === undefined) {
      this.#slots = null
      return undefined
    }
    const keyId = this.#handle.btfKeyTypeId
    const btf = keyId === 0 ? undefined : this.#btf()
    this.#slots = new Slots(this, this.#handle, kind, btf === undefined ? undefined : btf.codec(keyId))
    return this.#slots
  }

  /** The typed view, for an operation by key: queues, stacks and bloom filters have no keys. */
  #keyed(op: string): Typed & { keyCodec: CompiledCodec } {
    const t = this.#types(op)
    if (t.keyCodec === undefined) {
      const instead = t.type === 'bloom_filter' ? 'add() and has()' : 'push(), pop() and peek()'
      throw invalidArgument(op, `a ${t.type} map has no keys: use ${instead}`)
    }
    return t as Typed & { keyCodec: CompiledCodec }
  }

  /** The typed view, for deleting by key: array maps cannot delete. */
  #deletable(op: string): Typed & { keyCodec: CompiledCodec } {
    const t = this.#keyed(op)
    if (ARRAYS.has(t.type)) {
      throw invalidArgument(op, `the elements of ${t.type === 'array' ? 'an array' : `a ${t.type}`} map always exist: they cannot be deleted`,
        'set the element to zero instead: map.set(key, {}) (or 0), or clear() for all of them')
    }
    return t
  }

  #types(op: string): Typed {
    if (this.#typed !== undefined) return this.#typed
    const btf = this.#btf()
    const keyId = this.#handle.btfKeyTypeId
    const valueId = this.#handle.btfValueTypeId
    const keyless = this.keySize === 0
    if (btf === undefined || valueId === 0 || (keyId === 0 && !keyless)) {
      throw new BpfError(`${op}: map '${this.name}' has no BTF key and value types, so it only takes bytes`, {
        code: 'ENOBTF',
        op,
        hint: 'declare it with __type(key, …) and __type(value, …) and compile with -g, or use map.raw',
      })
    }
    this.#typed = new Typed(btf, keyless ? undefined : btf.compiled(keyId, this.#int64), btf.compiled(valueId, this.#int64, this.#chars), this,
      this.#handle.scratch())
    return this.#typed
  }

  /** The typed view, for a queue's or a stack's operation. */
  #keyless(op: string): Typed {
    const t = this.#types(op)
    if (t.type !== 'queue' && t.type !== 'stack') {
      throw invalidArgument(op, `'${this.name}' is a ${t.type} map, not a queue or stack`)
    }
    return t
  }

  #list<T>(op: string, items: Iterable<T>): T[] {
    return reading(op, 'the iterable', () => {
      if (items === null || typeof (items as Iterable<T>)?.[Symbol.iterator] !== 'function') {
        throw invalidArgument(op, 'expected an iterable')
      }
      if (Array.isArray(items)) return items
      // A typed array whose buffer was transferred cannot even be iterated.
      if (ArrayBuffer.isView(items) && items.byteLength === 0 && items.buffer.byteLength === 0) return []
      return [...items]
    })
  }

  #deleteKeys(t: Typed, keys: Buffer, count: number): number {
    let deleted = 0
    let start = 0
    while (start < count) {
      const result = this.#handle.deleteBatch(keys.subarray(start * t.keySize), count - start)
      if (result === null) {
        for (let i = start; i < count; i++) {
          if (this.#handle.delete(keys.subarray(i * t.keySize, (i + 1) * t.keySize))) deleted++
        }
        return deleted
      }
      deleted += result.count
      start += result.count + (result.missing ? 1 : 0)
    }
    return deleted
  }

  /** The map's entries in chunks: batch lookups where possible, else next_key + lookup. */
  *#chunks(t: Typed, andDelete: boolean): IterableIterator<Chunk> {
    let size = CHUNK
    let [keys, values] = split(size * t.keySize, size * t.valueBytes)
    const [token, next] = split(Math.max(t.keySize, 8), Math.max(t.keySize, 8))
    let first = true
    for (;;) {
      let result: { count: number; done: boolean } | null
      try {
        result = this.#handle.lookupBatch(first ? null : token, next, keys, values, size, andDelete)
      } catch (error) {
        // A hash bucket holds more entries than the chunk: retry with a bigger one.
        if (error instanceof BpfError && error.code === 'ENOSPC' && size < 1 << 20) {
          size *= 4
          ;[keys, values] = split(size * t.keySize, size * t.valueBytes)
          continue
        }
        throw error
      }
      if (result === null) break
      if (result.count > 0) yield { keys, values, count: result.count, deleted: andDelete }
      if (result.done) return
      next.copy(token)
      first = false
    }
    // No batch operations for this map type: key by key.
    const value = Buffer.alloc(t.valueBytes)
    let key = this.#handle.nextKey(null)
    while (key !== undefined) {
      const following = this.#handle.nextKey(key)
      if (this.#handle.lookup(key, 0, value)) yield { keys: key, values: value, count: 1, deleted: false }
      key = following
    }
  }
}

/**
 * Two zeroed buffers over one ArrayBuffer: keys and values that codecs then reach through one cached
 * DataView (codecs keep one view per ArrayBuffer, and alternating between two costs a lookup).
 */
function split(first: number, second: number): [Buffer, Buffer] {
  const whole = Buffer.alloc(first + second)
  return [whole.subarray(0, first), whole.subarray(first)]
}

type ElementOf<V> = V extends ReadonlyArray<infer E> ? E : never

interface Chunk {
  keys: Buffer
  values: Buffer
  count: number
  deleted: boolean
}

const keyName = (i: number): string => `entries[${i}][0]`
const valueName = (i: number): string => `entries[${i}][1]`

/** A typed map's codecs and scratch buffers (a key and a value, shared with native code, reused by every call). */
class Typed {
  /**
   * The map's type, read once: the getter is a native call that makes a string, which made has() on a
   * hash 1.6 µs a call instead of 1.0 µs (and cost a queue's push(), pop() and peek() twice).
   */
  readonly type: string
  readonly keySize: number
  readonly valueBytes: number
  readonly value: Buffer
  /** The native operations on the scratch key and value. */
  readonly scratch: MapScratch
  readonly keyCodec: CompiledCodec | undefined
  readonly #cpus: number
  readonly #stride: number
  readonly #valueCodec: CompiledCodec
  readonly #valueKind: 'string' | 'array' | 'other'
  // One DataView and Buffer over the scratch key and value, which share an ArrayBuffer: the codecs
  // read and write them at fixed offsets, with no lookups per call.
  readonly #dv: DataView
  readonly #b: Buffer
  readonly #keyAt: number
  readonly #valueAt: number

  constructor(btf: Btf, keyCodec: CompiledCodec | undefined, valueCodec: CompiledCodec, map: BpfMap, scratch: MapScratch) {
    this.type = map.type
    this.keySize = map.keySize
    this.valueBytes = map.valueBytes
    this.keyCodec = keyCodec
    this.#valueCodec = valueCodec
    const valueType = btf.resolve(valueCodec.typeId)
    this.#valueKind = isCharArray(btf, valueType.id) ? 'string' : valueType.kind === 'array' ? 'array' : 'other'
    const check = (what: string, codec: CompiledCodec, size: number): void => {
      if (codec.size !== size) {
        throw new BpfError(`map '${map.name}': its BTF ${what} type ${btf.typeName(codec.typeId)} is ${codec.size} bytes, the map's ${what}s ${size}`, {
          code: 'EINVAL',
          op: 'map.typed',
        })
      }
    }
    if (keyCodec !== undefined) check('key', keyCodec, map.keySize)
    check('value', valueCodec, map.valueSize)
    // The native scratch key and value: get/set/delete hand no buffers to native code.
    this.scratch = scratch
    const bytes = scratch.bytes
    const keyBytes = (this.keySize + 7) & ~7
    this.value = bytes.subarray(keyBytes, keyBytes + this.valueBytes)
    const views = viewsOfBuffer(bytes.buffer)
    this.#dv = views.view
    this.#b = views.buffer
    this.#keyAt = bytes.byteOffset
    this.#valueAt = this.value.byteOffset
    this.#cpus = map.perCpu ? addon.possibleCpus : 0
    this.#stride = (map.valueSize + 7) & ~7
  }

  encodeKey(key: unknown): void {
    this.keyCodec!.writeAt(key, this.#dv, this.#b, this.#keyAt, 'key')
  }

  /** The scratch value, decoded. */
  readValue(): unknown {
    if (this.#cpus === 0) return this.#valueCodec.read(this.#dv, this.#b, this.#valueAt)
    return this.decodeValue(this.value, 0)
  }

  /** Encodes `value` into the scratch value. */
  writeValue(value: unknown): void {
    if (this.#cpus === 0) this.#valueCodec.writeAt(value, this.#dv, this.#b, this.#valueAt, 'value')
    else this.encodeValue(value, this.value, 0)
  }

  decodeValue(bytes: Uint8Array, offset: number): unknown {
    if (this.#cpus === 0) return this.#valueCodec.decode(bytes, offset)
    const values = new Array(this.#cpus)
    for (let cpu = 0; cpu < this.#cpus; cpu++) values[cpu] = this.#valueCodec.decode(bytes, offset + cpu * this.#stride)
    return values
  }

  /**
   * Appends `count` entries as [key, value] pairs to `out`: keys laid out one per keySize in `keys`,
   * values one per valueBytes in `values` (both filled by the kernel, their sizes checked natively).
   */
  appendEntries(keys: Buffer, values: Buffer, count: number, out: unknown[]): void {
    const keyCodec = this.keyCodec as CompiledCodec
    const readKey = keyCodec.read
    const k = viewsOfBuffer(keys.buffer)
    if (this.#cpus !== 0) {
      for (let i = 0; i < count; i++) {
        out.push([readKey(k.view, k.buffer, keys.byteOffset + i * this.keySize), this.decodeValue(values, i * this.valueBytes)])
      }
      return
    }
    const readValue = this.#valueCodec.read
    const v = values.buffer === keys.buffer ? k : viewsOfBuffer(values.buffer)
    const keyAt = keys.byteOffset
    const valueAt = values.byteOffset
    for (let i = 0; i < count; i++) {
      out.push([readKey(k.view, k.buffer, keyAt + i * this.keySize), readValue(v.view, v.buffer, valueAt + i * this.valueBytes)])
    }
  }

  /**
   * Encodes entries[i] (a [key, value] pair) at i * keySize of `keys` and i * valueBytes of `values`
   * (zeroed buffers of that size), keys first; errors name the element as `entries[i][0]` or
   * `entries[i][1]`.
   */
  encodeEntries(entries: readonly unknown[], keys: Buffer, values: Buffer): void {
    reading('map.setMany', 'an entry', () => {
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]
        if (!Array.isArray(entry) || entry.length !== 2) throw invalidArgument('map.setMany', `entry ${i} must be a [key, value] pair`)
      }
    })
    const rows = entries as ReadonlyArray<readonly unknown[]>
    const k = viewsOfBuffer(keys.buffer)
    ;(this.keyCodec as CompiledCodec).writeColumn(rows, 0, k.view, k.buffer, keys.byteOffset, this.keySize, keyName)
    if (this.#cpus !== 0) {
      for (let i = 0; i < rows.length; i++) this.encodeValue((rows[i] as readonly unknown[])[1], values, i * this.valueBytes, valueName(i), 'map.setMany')
      return
    }
    const v = values.buffer === keys.buffer ? k : viewsOfBuffer(values.buffer)
    this.#valueCodec.writeColumn(rows, 1, v.view, v.buffer, values.byteOffset, this.valueBytes, valueName)
  }

  /**
   * Whether a per-CPU map's value is given per CPU (else one value for every CPU): an array — of
   * values when the value type is itself an array (or a string, for `char[N]`).
   */
  #perCpuList(value: unknown): value is ArrayLike<unknown> {
    if (this.#valueKind === 'string') return Array.isArray(value)
    if (this.#valueKind === 'array') return Array.isArray(value) && value.every((v) => Array.isArray(v) || ArrayBuffer.isView(v))
    return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))
  }

  encodeValue(value: unknown, target: Uint8Array, offset: number, path = 'value', op = 'map.set'): void {
    if (this.#cpus === 0) {
      this.#valueCodec.encodeInto(value, target, offset, path)
      return
    }
    target.fill(0, offset, offset + this.valueBytes)
    // Read once, and through reading(): a proxy or a getter that throws is the caller's BpfError.
    const values = reading(op, path, () => (this.#perCpuList(value) ? Array.from(value) : undefined))
    if (values !== undefined) {
      if (values.length !== this.#cpus) {
        throw new BpfError(`${path}: a per-CPU value takes one value or exactly ${this.#cpus} (one per possible CPU), got ${values.length}`, {
          code: 'EINVAL',
          op,
        })
      }
      for (let cpu = 0; cpu < this.#cpus; cpu++) {
        this.#valueCodec.encodeInto(values[cpu], target, offset + cpu * this.#stride, `${path}[${cpu}]`)
      }
      return
    }
    this.#valueCodec.encodeInto(value, target, offset, path)
    for (let cpu = 1; cpu < this.#cpus; cpu++) {
      target.copyWithin(offset + cpu * this.#stride, offset, offset + this.#valueCodec.size)
    }
  }
}
