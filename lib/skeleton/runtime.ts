// Skeleton runtime: what a generated `*.skel.ts` calls — opens the object, checks it still has the
// layout the skeleton was generated from, and gives typed maps, programs, globals and readers.
import { BpfObject, type AttachOptions, type OpenOptions } from '../object'
import type { BpfMap } from '../map'
import type { BpfProgram } from '../program'
import type { Attachments } from '../link'
import type { Btf } from '../btf/btf'
import type { BtfType } from '../btf/types'
import { isBpfkitVariable, type Globals } from '../globals'
import { BpfError, invalidArgument, optionsOf, reading } from '../errors'
import type { RingBuffer, RingBufferOptions } from '../events/ring-buffer'
import type { PerfBuffer, PerfBufferOptions } from '../events/perf-buffer'
import type { UserRingBuffer, UserRingBufferOptions } from '../events/user-ring-buffer'
import type { OnCpu } from '../events/reader'
import type { Int64AsNumber } from '../btf/codec'

/**
 * A ring buffer map of a skeleton, with the reader typed by its event type: `T` as the skeleton
 * decodes it (see its `int64` option), `B` with 64-bit fields as bigints (BTF's default).
 */
export interface RingBufferMap<T, B = T> {
  readonly map: BpfMap
  /**
   * A reader of this ring buffer (see BpfObject.ringBuffer); `int64` decodes 64-bit fields as numbers
   * or bigints whatever the skeleton's option; `U` when `options.type` or `options.decoder` reads another type.
   */
  reader(options: RingBufferOptions<Int64AsNumber<B>> & { int64: 'number' }): RingBuffer<Int64AsNumber<B>>
  reader(options: RingBufferOptions<B> & { int64: 'bigint' }): RingBuffer<B>
  reader<U = T>(options?: RingBufferOptions<U>): RingBuffer<U>
}

/** A user ring buffer of a skeleton: records written from JavaScript, typed by BPFKIT_USER_RINGBUF. */
export interface UserRingBufferMap<T> {
  readonly map: BpfMap
  /** A writer of this ring (see BpfObject.userRingBuffer); `U` when `options.type` names another type. */
  writer<U = T>(options?: UserRingBufferOptions): UserRingBuffer<U>
}

/**
 * A perf event array of a skeleton, with the reader typed by its event type (BPFKIT_PERFBUF): `T` as
 * the skeleton decodes it (see its `int64` option), `B` with 64-bit fields as bigints (BTF's default).
 */
export interface PerfBufferMap<T, B = T> {
  readonly map: BpfMap
  /**
   * A reader of this perf buffer (see BpfObject.perfBuffer); `withCpu: true` gives `{ cpu, event }`;
   * `int64` decodes 64-bit fields as numbers or bigints whatever the skeleton's option; `U` when
   * `options.type` names another type.
   */
  reader(options: PerfBufferOptions<Int64AsNumber<B>> & { withCpu: true; int64: 'number' }): PerfBuffer<OnCpu<Int64AsNumber<B>>>
  reader(options: PerfBufferOptions<Int64AsNumber<B>> & { int64: 'number' }): PerfBuffer<Int64AsNumber<B>>
  reader(options: PerfBufferOptions<B> & { withCpu: true; int64: 'bigint' }): PerfBuffer<OnCpu<B>>
  reader(options: PerfBufferOptions<B> & { int64: 'bigint' }): PerfBuffer<B>
  reader<U = T>(options: PerfBufferOptions<U> & { withCpu: true }): PerfBuffer<OnCpu<U>>
  reader<U = T>(options?: PerfBufferOptions<U>): PerfBuffer<U>
}

/** The global sections of a skeleton, by the name the skeleton gives them. */
export interface SkeletonGlobals {
  // `| undefined`: a generated skeleton says `rodata: undefined` for a section its object lacks, which
  // exactOptionalPropertyTypes (on in tsc --init's tsconfig since TypeScript 5.9) tells from absent.
  rodata?: object | undefined
  data?: object | undefined
  bss?: object | undefined
  kconfig?: object | undefined
  /** Custom sections (`.data.*`, `.rodata.*`, `.bss.*`) by their section name. */
  custom?: Record<string, object> | undefined
}

/** A skeleton between open() and load(): globals and map sizes can still change. */
export interface OpenedSkeleton<M, P, G extends SkeletonGlobals> extends Disposable, AsyncDisposable {
  /** The underlying object, for anything the skeleton does not type. */
  readonly object: BpfObject
  readonly maps: M
  readonly progs: P
  /** `const volatile` globals: set them before load(). */
  readonly rodata: G['rodata']
  readonly data: G['data']
  readonly bss: G['bss']
  readonly kconfig: G['kconfig'] extends object ? Readonly<G['kconfig']> : undefined
  /** The globals of a custom section (`.data.*`, `.rodata.*`, `.bss.*`) by its name. */
  section<S extends keyof NonNullable<G['custom']>>(name: S): NonNullable<G['custom']>[S]
  /** Loads the object; the same skeleton, typed as loaded (`.rodata` read-only). */
  load(): Promise<LoadedSkeleton<M, P, G>>
  /** Attaches every program by its SEC() name; `.skipped` says which were not, and why (see BpfObject.attach). */
  attach(options?: AttachOptions): Attachments
  close(): void
}

/** A loaded skeleton: `.rodata` is read-only. */
export interface LoadedSkeleton<M, P, G extends SkeletonGlobals> extends Omit<OpenedSkeleton<M, P, G>, 'rodata' | 'load' | 'section'> {
  readonly rodata: G['rodata'] extends object ? Readonly<G['rodata']> : undefined
  /** The globals of a custom section; `.rodata.*` ones are read-only once loaded. */
  section<S extends keyof NonNullable<G['custom']>>(name: S):
    S extends `.rodata${string}` ? Readonly<NonNullable<G['custom']>[S]> : NonNullable<G['custom']>[S]
}

/** What a generated skeleton passes to openSkeleton. */
export interface SkeletonSpec {
  /** The skeleton's name, for messages. */
  name: string
  /** The object's bytes (base64) or its path. */
  object: { base64: string } | { path: string }
  /** How the skeleton was generated, for the regenerate hint. */
  command: string
  /**
   * The layout of every type the skeleton describes: [kind, C name, size, members], a member being
   * [name, bit offset, bit size, type signature] (for enums: [name, 0, 0, value]).
   */
  layout: Array<[string, string, number, Array<[string, number, number, string]>]>
  /** The type signatures of map keys and values and of global variables, by `map <name>` / `var <section>.<name>`. */
  shapes: Record<string, string>
  /** Global sections by the skeleton's property name: `rodata: '.rodata'`. */
  sections: Record<string, string>
  maps: Array<[string, 'map' | 'ringbuf' | 'perf' | 'userringbuf']>
  progs: string[]
}

function stale(spec: SkeletonSpec, what: string): BpfError {
  return new BpfError(`${spec.name}.skel: the object no longer matches the skeleton (${what})`, {
    code: 'ESTALE',
    op: 'skeleton.open',
    hint: `regenerate it: ${spec.command}`,
  })
}

/**
 * @internal What a value of BTF type `id` decodes to, as a short string: two types with one
 * signature have one TypeScript type. Composites are named (their members have their own entry).
 */
export function typeSignature(btf: Btf, id: number, depth = 0): string {
  const type = btf.resolve(id)
  switch (type.kind) {
    case 'int':
      return `i${type.size}${type.signed ? 's' : 'u'}${type.bool ? 'b' : ''}${type.char ? 'c' : ''}:${type.bits}@${type.bitOffset}`
    case 'float':
      return `f${type.size}`
    case 'ptr':
      return 'p'
    case 'enum':
    case 'enum64':
      return `e${type.size}${type.signed ? 's' : 'u'} ${type.name}`
    case 'array':
      return depth > 16 ? '[]' : `${typeSignature(btf, type.type, depth + 1)}[${type.length}]`
    case 'struct':
    case 'union':
      return `${type.kind} ${type.name} ${type.size}`
    default:
      return type.kind
  }
}

/** The entry of `spec.layout` for a struct, union or enum of the object's BTF. */
export function layoutOf(btf: Btf, type: BtfType): [string, string, number, Array<[string, number, number, string]>] {
  if (type.kind === 'enum' || type.kind === 'enum64') {
    return [type.kind, type.name, type.size, type.values.map((v): [string, number, number, string] => [v.name, 0, 0, String(v.value)])]
  }
  if (type.kind === 'struct' || type.kind === 'union') {
    return [type.kind, type.name, type.size,
      type.members.map((m): [string, number, number, string] => [m.name, m.bitOffset, m.bitSize, typeSignature(btf, m.type)])]
  }
  throw new Error(`no layout for a ${type.kind}`)
}

/** The `spec.shapes` of an object: what its maps and globals hold. */
export function shapesOf(object: BpfObject): Record<string, string> {
  const btf = object.btf
  const shapes: Record<string, string> = {}
  if (btf === undefined) return shapes
  for (const map of object.maps) {
    const { btfKeyTypeId: key, btfValueTypeId: value } = map.handle
    if (map.isInternal) {
      const datasec = value === 0 ? undefined : btf.resolve(value)
      if (datasec?.kind !== 'datasec') continue
      for (const v of datasec.vars) {
        const variable = btf.type(v.type)
        if (variable.kind !== 'var' || isBpfkitVariable(btf, variable.id)) continue
        shapes[`var ${datasec.name}.${variable.name}`] ??= `${v.offset}:${typeSignature(btf, variable.type)}`
      }
    } else if (value !== 0) {
      shapes[`map ${map.name}`] = `${key === 0 ? '-' : typeSignature(btf, key)} ${typeSignature(btf, value)}`
    }
  }
  return shapes
}

function checkLayout(spec: SkeletonSpec, object: BpfObject): void {
  const btf = object.btf
  if (btf === undefined) throw stale(spec, 'it has no BTF')
  const byName = new Map<string, BtfType[]>()
  for (const type of btf.types()) {
    const key = `${type.kind} ${type.name}`
    const list = byName.get(key)
    if (list === undefined) byName.set(key, [type])
    else list.push(type)
  }
  for (const entry of spec.layout) {
    const [kind, name] = entry
    const candidates = byName.get(`${kind} ${name}`) ?? []
    const wanted = JSON.stringify(entry)
    if (!candidates.some((type) => JSON.stringify(layoutOf(btf, type)) === wanted)) {
      throw stale(spec, candidates.length === 0 ? `${kind} ${name || '(anonymous)'} is gone` : `${kind} ${name || '(anonymous)'} changed`)
    }
  }
  const shapes = shapesOf(object)
  for (const [what, shape] of Object.entries(spec.shapes)) {
    if (shapes[what] !== shape) throw stale(spec, `${what} changed`)
  }
}

/** @internal Opens the object of a generated skeleton. */
export function openSkeleton<M, P, G extends SkeletonGlobals>(spec: SkeletonSpec, options?: OpenOptions): OpenedSkeleton<M, P, G> {
  const source = reading('openSkeleton', 'the spec', () => {
    const given = (spec as Partial<SkeletonSpec> | null)?.object as { base64?: unknown; path?: unknown } | null | undefined
    if (spec === null || typeof spec !== 'object' || given === null || typeof given !== 'object') return undefined
    return typeof given.base64 === 'string' ? Buffer.from(given.base64, 'base64') : typeof given.path === 'string' ? given.path : undefined
  })
  if (source === undefined) throw invalidArgument('openSkeleton', 'expected the spec of a generated skeleton')
  const object = BpfObject.open(source, { objectName: spec.name, ...optionsOf('open', options) })
  // Null-prototype records: a map or program may be named `__proto__` or `constructor`.
  const maps: Record<string, unknown> = Object.create(null)
  const progs: Record<string, BpfProgram> = Object.create(null)
  try {
    // An embedded object is the very bytes the skeleton was generated from: only one loaded from a
    // path can have changed under it (and comparing layouts means reading all of its BTF).
    if ('path' in spec.object) checkLayout(spec, object)
    const names = (items: readonly { name: string }[]): Set<string> => new Set(items.map((item) => item.name))
    const mapNames = names(object.maps)
    const progNames = names(object.programs)
    for (const [name, kind] of spec.maps) {
      if (!mapNames.has(name)) throw stale(spec, `map '${name}' is gone`)
      const map = object.map(name)
      if (kind === 'ringbuf') maps[name] = { map, reader: (o?: RingBufferOptions<unknown>) => object.ringBuffer(name, o) }
      else if (kind === 'perf') maps[name] = { map, reader: (o?: PerfBufferOptions<unknown>) => object.perfBuffer(name, o) }
      else if (kind === 'userringbuf') maps[name] = { map, writer: (o?: UserRingBufferOptions) => object.userRingBuffer(name, o) }
      else maps[name] = map
    }
    for (const name of spec.progs) {
      if (!progNames.has(name)) throw stale(spec, `program '${name}' is gone`)
      progs[name] = object.program(name)
    }
  } catch (error) {
    object.close()
    throw error
  }
  const section = (key: string): Globals | undefined => (spec.sections[key] === undefined ? undefined : object.globals(spec.sections[key]))
  const skeleton = {
    object,
    maps: Object.freeze(maps),
    progs: Object.freeze(progs),
    get rodata() {
      return section('rodata')
    },
    get data() {
      return section('data')
    },
    get bss() {
      return section('bss')
    },
    get kconfig() {
      return section('kconfig')
    },
    section: (name: string) => object.globals(name),
    async load() {
      await object.load()
      return skeleton
    },
    attach: (options?: AttachOptions) => object.attach(options),
    close: () => object.close(),
    [Symbol.dispose]: () => object.close(),
    [Symbol.asyncDispose]: async () => object.close(),
  }
  return skeleton as unknown as OpenedSkeleton<M, P, G>
}
