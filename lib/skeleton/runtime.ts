// Skeleton runtime: what a generated `*.skel.ts` calls — opens the object, checks it still has the
// layout the skeleton was generated from, and gives typed maps, programs, globals and readers.
import { BpfObject, type OpenOptions } from '../object'
import type { BpfMap } from '../map'
import type { BpfProgram } from '../program'
import type { Link } from '../link'
import type { Btf } from '../btf/btf'
import type { BtfType } from '../btf/types'
import type { Globals } from '../globals'
import { BpfError } from '../errors'
import type { RingBuffer, RingBufferOptions } from '../events/ring-buffer'
import type { PerfBuffer, PerfBufferOptions } from '../events/perf-buffer'

/** A ring buffer map of a skeleton, with the reader typed by its event type. */
export interface RingBufferMap<T> {
  readonly map: BpfMap
  /** A reader of this ring buffer (see BpfObject.ringBuffer). */
  reader(options?: RingBufferOptions<T>): RingBuffer<T>
}

/** A perf event array of a skeleton. */
export interface PerfBufferMap<T> {
  readonly map: BpfMap
  /** A reader of this perf buffer (see BpfObject.perfBuffer). */
  reader(options?: PerfBufferOptions<T>): PerfBuffer<T>
}

/** The global sections of a skeleton, by the name the skeleton gives them. */
export interface SkeletonGlobals {
  rodata?: object
  data?: object
  bss?: object
  kconfig?: object
  /** Custom sections (`.data.*`, `.rodata.*`, `.bss.*`) by their section name. */
  custom?: Record<string, object>
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
  /** Attaches every program by its SEC() name. */
  attach(): Link[]
  close(): void
}

/** A loaded skeleton: `.rodata` is read-only. */
export interface LoadedSkeleton<M, P, G extends SkeletonGlobals> extends Omit<OpenedSkeleton<M, P, G>, 'rodata' | 'load'> {
  readonly rodata: G['rodata'] extends object ? Readonly<G['rodata']> : undefined
}

/** What a generated skeleton passes to openSkeleton. */
export interface SkeletonSpec {
  /** The skeleton's name, for messages. */
  name: string
  /** The object's bytes (base64) or its path. */
  object: { base64: string } | { path: string }
  /** How the skeleton was generated, for the regenerate hint. */
  command: string
  /** The layout of every type the skeleton describes: [kind, C name, size, [member, bit offset, bit size]…]. */
  layout: Array<[string, string, number, Array<[string, number, number]>]>
  /** Global sections by the skeleton's property name: `rodata: '.rodata'`. */
  sections: Record<string, string>
  maps: Record<string, 'map' | 'ringbuf' | 'perf'>
  progs: string[]
}

function stale(spec: SkeletonSpec, what: string): BpfError {
  return new BpfError(`${spec.name}.skel: the object no longer matches the skeleton (${what})`, {
    code: 'ESTALE',
    op: 'skeleton.open',
    hint: `regenerate it: ${spec.command}`,
  })
}

function checkLayout(spec: SkeletonSpec, btf: Btf | undefined): void {
  if (btf === undefined) throw stale(spec, 'it has no BTF')
  for (const [kind, name, size, members] of spec.layout) {
    const candidates: BtfType[] = []
    for (const type of btf.types()) if (type.kind === kind && type.name === name) candidates.push(type)
    const matches = candidates.some((type) => {
      if (type.kind === 'enum' || type.kind === 'enum64') return type.size === size
      if (type.kind !== 'struct' && type.kind !== 'union') return false
      return type.size === size && type.members.length === members.length &&
        type.members.every((m, i) => m.name === members[i]?.[0] && m.bitOffset === members[i]?.[1] && m.bitSize === members[i]?.[2])
    })
    if (!matches) {
      throw stale(spec, candidates.length === 0 ? `${kind} ${name} is gone` : `${kind} ${name} changed its size or members`)
    }
  }
}

/** @internal Opens the object of a generated skeleton. */
export function openSkeleton<M, P, G extends SkeletonGlobals>(spec: SkeletonSpec, options?: OpenOptions): OpenedSkeleton<M, P, G> {
  const source = 'base64' in spec.object ? Buffer.from(spec.object.base64, 'base64') : spec.object.path
  const object = BpfObject.open(source, { objectName: spec.name, ...options })
  try {
    checkLayout(spec, object.btf)
  } catch (error) {
    object.close()
    throw error
  }
  const maps: Record<string, unknown> = {}
  for (const [name, kind] of Object.entries(spec.maps)) {
    const map = object.map(name)
    if (kind === 'ringbuf') maps[name] = { map, reader: (o?: RingBufferOptions<unknown>) => object.ringBuffer(name, o) }
    else if (kind === 'perf') maps[name] = { map, reader: (o?: PerfBufferOptions<unknown>) => object.perfBuffer(name, o) }
    else maps[name] = map
  }
  const progs: Record<string, BpfProgram> = {}
  for (const name of spec.progs) progs[name] = object.program(name)
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
    attach: () => object.attach(),
    close: () => object.close(),
    [Symbol.dispose]: () => object.close(),
    [Symbol.asyncDispose]: async () => object.close(),
  }
  return skeleton as unknown as OpenedSkeleton<M, P, G>
}
