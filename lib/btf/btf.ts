// Btf: a BTF type table (an object's, the running kernel's or a file's), its lookups and its codecs.
import * as fs from 'node:fs'
import { addon, type BtfHandle } from '../native'
import { BpfError, describe, invalidArgument, isInstance, optionsOf, reading } from '../errors'
import { compileCodec, type CharsMode, type Codec, type CodecOptions, type CompiledCodec, type Int64Mode } from './codec'
import { KIND_NUMBER, type BtfComposite, type BtfKind, type BtfType } from './types'

/** @internal Checks `options.int64` of the calls that take it (codecs, maps, readers, objects). */
export function int64Of(op: string, options: { int64?: unknown } | undefined): Int64Mode {
  if (options === undefined) return 'bigint'
  if (options === null || typeof options !== 'object') throw invalidArgument(op, `options must be an object, got ${describe(options)}`)
  const mode = reading(op, 'options.int64', () => options.int64)
  if (mode === undefined) return 'bigint'
  if (mode !== 'bigint' && mode !== 'number') throw invalidArgument(op, `int64 must be 'bigint' or 'number', got ${describe(mode)}`)
  return mode
}

const NO_CHARS: ReadonlyMap<string, CharsMode> = new Map()

/**
 * @internal Checks `options.chars` of the calls that take it (codecs, maps, readers): the char[N]
 * fields by path, in a stable order (the codec cache's key).
 */
export function charsOf(op: string, options: { chars?: unknown } | undefined): ReadonlyMap<string, CharsMode> {
  const chars = reading(op, 'options.chars', () => options?.chars)
  if (chars === undefined) return NO_CHARS
  let entries: Array<[string, unknown]> | undefined
  try {
    if (chars !== null && typeof chars === 'object' && !Array.isArray(chars)) entries = Object.entries(chars)
  } catch {
    // A revoked proxy, a throwing getter: not a plain object of modes.
  }
  if (entries === undefined) {
    throw invalidArgument(op, `chars must be an object of char[N] field paths and 'string', 'bytes' or 'strings', got ${describe(chars)}`)
  }
  for (const [path, mode] of entries) {
    if (mode !== 'string' && mode !== 'bytes' && mode !== 'strings') {
      throw invalidArgument(op, `chars['${path}'] must be 'string', 'bytes' or 'strings', got ${describe(mode)}`)
    }
  }
  return new Map(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) as Array<[string, CharsMode]>)
}

/** Kinds that only qualify or rename another type: typedefs and const/volatile/restrict/type tags. */
export const MODIFIERS: ReadonlySet<BtfKind> = new Set<BtfKind>(['typedef', 'const', 'volatile', 'restrict', 'type_tag'])
const CHUNK = 4096

/**
 * BTF: the type information of a BPF object or of a kernel. Types are plain objects (`btf.type(id)`);
 * `btf.codec(id)` compiles (once) the decoder and encoder that maps, globals and events use.
 */
export class Btf {
  readonly #handle: BtfHandle | null
  readonly #types: (BtfType | undefined)[]
  readonly #count: number
  readonly #codecs = new Map<string, CompiledCodec>()
  #byName: Map<string, number[]> | undefined

  private constructor(handle: BtfHandle, eager: boolean) {
    this.#count = handle.count
    if (eager) {
      this.#types = handle.types(0, this.#count)
      this.#handle = null
    } else {
      this.#types = new Array(this.#count)
      this.#handle = handle
    }
  }

  /** The running kernel's BTF (/sys/kernel/btf/vmlinux). Types are read from it as they are used. */
  static vmlinux(): Btf {
    return new Btf(new addon.Btf({ vmlinux: true }), false)
  }

  /** BTF from a file: raw BTF (`/sys/kernel/btf/*`, `pahole --btf_encode_detached`) or an ELF with a .BTF section. */
  static parse(path: string): Btf {
    if (typeof path !== 'string' || path === '') throw invalidArgument('Btf.parse', 'expected a file path')
    // What libbpf would only call an I/O error: a directory, a device, an empty file.
    let stat: fs.Stats | undefined
    try {
      stat = fs.statSync(path)
    } catch {
      // Missing or unreadable: libbpf's own error says which.
    }
    if (stat !== undefined && !stat.isFile()) {
      throw new BpfError(`btf__parse: ${path}: ${stat.isDirectory() ? 'is a directory' : 'is not a regular file'}, not BTF`, { code: 'EINVAL', op: 'btf__parse', origin: 'argument' })
    }
    if (stat !== undefined && stat.size === 0) throw new BpfError(`btf__parse: ${path}: is empty, not BTF`, { code: 'EINVAL', op: 'btf__parse', origin: 'argument' })
    return new Btf(new addon.Btf({ path }), false)
  }

  /** The BTF the kernel holds under `id` (as `bpftool btf list` shows it). */
  static fromKernel(id: number): Btf {
    if (!Number.isInteger(id) || id <= 0) throw invalidArgument('Btf.fromKernel', 'expected a positive BTF id')
    return new Btf(new addon.Btf({ id }), false)
  }

  /**
   * One BTF holding every type of `btfs`, in order (libbpf's btf__add_btf). The types of the first
   * keep their ids: merge the kernel's BTF with a program's (`pahole --btf_encode_detached`) to
   * relocate uprobes against a user-space program's structs (user-space CO-RE).
   */
  static merge(...btfs: Btf[]): Btf {
    if (btfs.length === 0 || btfs.some((b) => !isInstance(b, Btf))) throw invalidArgument('Btf.merge', 'expected one or more Btf')
    const merged = new addon.Btf({ empty: true })
    for (const btf of btfs) merged.add(btf.#native('Btf.merge'))
    return new Btf(merged, false)
  }

  /** The BTF in its binary form, as `.btf` files and `btfCustomPath` hold it. */
  rawData(): Buffer {
    return this.#native('btf.rawData').rawData()
  }

  /** @internal The native BTF (not an object's copy), for maps created with its types. */
  native(op: string): BtfHandle {
    return this.#native(op)
  }

  /**
   * @internal Copies types `ids` of `from`, and what they reach, into this BTF (reusing the named types
   * it has); returns their new ids. Existing ids and strings do not move.
   */
  copyTypes(from: Btf, ids: number[]): number[] {
    return this.#native('btf.copyTypes').addTypes(from.#native('btf.copyTypes'), ids)
  }

  #native(op: string): BtfHandle {
    if (this.#handle === null) {
      throw new BpfError(`${op}: an object's BTF copy has no native form: use Btf.parse(path) on the object`, { code: 'EINVAL', op })
    }
    return this.#handle
  }

  /** @internal A copy of an object's BTF, which stays usable after the object is closed. */
  static copyOf(handle: BtfHandle): Btf {
    const typeTable = reading('Btf.copyOf', 'the BTF', () => typeof handle?.types === 'function' && typeof handle.count === 'number')
    if (!typeTable) throw invalidArgument('Btf.copyOf', "expected an object's native BTF (read it as obj.btf)")
    return new Btf(handle, true)
  }

  /** Number of type ids, including 0 (void). */
  get count(): number {
    return this.#count
  }

  /** The type with this id. */
  type(id: number): BtfType {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= this.#count) {
      throw invalidArgument('btf.type', `no type with id ${describe(id)} (this BTF has ids 0…${this.#count - 1})`)
    }
    let type = this.#types[id]
    if (type === undefined) {
      const first = id - (id % CHUNK)
      const chunk = (this.#handle as BtfHandle).types(first, Math.min(first + CHUNK, this.#count))
      for (let i = 0; i < chunk.length; i++) this.#types[first + i] ??= chunk[i]
      type = this.#types[id] as BtfType
    }
    return type
  }

  /** Every type, in id order (starting with void). */
  *types(): IterableIterator<BtfType> {
    for (let id = 0; id < this.#count; id++) yield this.type(id)
  }

  /** The first type named `name` (of `kind`, when given), e.g. `find('event', 'struct')`. */
  find(name: string, kind?: BtfKind): BtfType | undefined {
    if (typeof name !== 'string') throw invalidArgument('btf.find', `name must be a string, got ${describe(name)}`)
    if (kind !== undefined && (typeof kind !== 'string' || !Object.hasOwn(KIND_NUMBER, kind))) {
      throw invalidArgument('btf.find', `unknown kind ${describe(kind)}`)
    }
    if (this.#handle !== null) {
      const id = this.#handle.find(name, kind === undefined ? undefined : KIND_NUMBER[kind])
      return id === 0 ? undefined : this.type(id)
    }
    if (this.#byName === undefined) {
      this.#byName = new Map()
      for (const type of this.#types as BtfType[]) {
        if (type.name === '') continue
        const ids = this.#byName.get(type.name)
        if (ids === undefined) this.#byName.set(type.name, [type.id])
        else ids.push(type.id)
      }
    }
    const id = this.#byName.get(name)?.find((i) => kind === undefined || this.type(i).kind === kind)
    return id === undefined ? undefined : this.type(id)
  }

  /** The type behind typedefs and const/volatile/restrict modifiers. */
  resolve(id: number): BtfType {
    let type = this.type(id)
    for (let depth = 0; MODIFIERS.has(type.kind); depth++) {
      // As libbpf's MAX_RESOLVE_DEPTH: a longer chain is a cycle in a malformed BTF.
      if (depth === 32) {
        throw new BpfError(`btf.resolve: the typedef/modifier chain of type ${id} does not end`, { code: 'EFORMAT', op: 'btf.resolve' })
      }
      type = this.type((type as { type: number }).type)
    }
    return type
  }

  /** Bytes a value of the type occupies (as C's sizeof). */
  sizeOf(id: number): number {
    const type = this.resolve(id)
    switch (type.kind) {
      case 'int':
      case 'float':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'datasec':
        return type.size
      case 'ptr':
        return 8
      case 'array':
        return type.length * this.sizeOf(type.type)
      case 'var':
        return this.sizeOf(type.type)
      default:
        throw new BpfError(`btf.sizeOf: ${this.typeName(id)} has no size`, { code: 'EINVAL', op: 'btf.sizeOf' })
    }
  }

  /** The type as C spells it: `struct event`, `u16`, `char[16]`, `const int *`. */
  typeName(id: number): string {
    const type = this.type(id)
    switch (type.kind) {
      case 'void':
        return 'void'
      case 'struct':
      case 'union':
        return `${type.kind} ${type.name || '(anon)'}`
      case 'enum':
      case 'enum64':
        return `enum ${type.name || '(anon)'}`
      case 'fwd':
        return `${type.union ? 'union' : 'struct'} ${type.name}`
      case 'ptr':
        return `${this.typeName(type.type)} *`
      case 'array': {
        // The outer dimension first, as C writes it: u16 grid[2][3] is 2 arrays of 3, `u16[2][3]`.
        const inner = this.typeName(type.type)
        const at = this.type(type.type).kind === 'array' ? inner.indexOf('[') : inner.length
        return `${inner.slice(0, at)}[${type.length}]${inner.slice(at)}`
      }
      case 'const':
      case 'volatile':
      case 'restrict':
        return `${type.kind} ${this.typeName(type.type)}`
      case 'type_tag':
        return this.typeName(type.type)
      case 'func_proto':
        return `${this.typeName(type.type)} (*)(${type.params.map((p) => this.typeName(p.type)).join(', ')})`
      default:
        return type.name || type.kind
    }
  }

  /** The decl tags (`__attribute__((btf_decl_tag("…")))`) on a type, var or func, or on one of its members. */
  declTags(id: number, componentIndex = -1): string[] {
    this.type(id)
    if (typeof componentIndex !== 'number' || !Number.isInteger(componentIndex)) {
      throw invalidArgument('btf.declTags', `componentIndex must be an integer, got ${describe(componentIndex)}`)
    }
    const tags: string[] = []
    for (const type of this.types()) {
      if (type.kind === 'decl_tag' && type.type === id && type.componentIndex === componentIndex) tags.push(type.name)
    }
    return tags
  }

  /** The name of an enum's value, or undefined when it has none. */
  enumName(id: number, value: number | bigint): string | undefined {
    const type = this.resolve(id)
    if (type.kind !== 'enum' && type.kind !== 'enum64') throw invalidArgument('btf.enumName', `${this.typeName(id)} is not an enum`)
    if (typeof value !== 'number' && typeof value !== 'bigint') {
      throw invalidArgument('btf.enumName', `value must be a number or bigint, got ${describe(value)}`)
    }
    // eslint-disable-next-line eqeqeq -- enum values are numbers or bigints: compare them as values
    return type.values.find((v) => v.value == value)?.name
  }

  /**
   * The compiled decoder and encoder of a type (structs, unions, arrays, integers…). Compiled once
   * per type (and `int64` mode) and cached.
   */
  codec<T = any>(id: number, given?: CodecOptions): Codec<T> {
    const options = optionsOf('btf.codec', given)
    return this.compiled<T>(id, int64Of('btf.codec', options), charsOf('btf.codec', options))
  }

  /** @internal The codec with its unchecked decoder and view class. */
  compiled<T = any>(id: number, int64: Int64Mode = 'bigint', chars: ReadonlyMap<string, CharsMode> = NO_CHARS, keepBytes = true): CompiledCodec<T> {
    this.type(id)
    const key = `${int64} ${id}${[...chars].map(([path, mode]) => ` ${path}=${mode}`).join('')}${keepBytes ? '' : ' unkept'}`
    let codec = this.#codecs.get(key)
    if (codec === undefined) {
      codec = compileCodec(this, id, int64, chars, keepBytes)
      this.#codecs.set(key, codec)
    }
    return codec as CompiledCodec<T>
  }

  /**
   * The memory layout of a type in one line: member names, offsets and bit sizes, integer sizes and
   * signedness, array lengths — not type names. Two types with the same layout read the same bytes the
   * same way, whatever BTF they come from (a map pinned by an older build of a program, say).
   */
  layout(id: number): string {
    const type = this.resolve(id)
    switch (type.kind) {
      case 'int':
        return `${type.bool ? 'bool' : type.signed ? 's' : 'u'}${type.bits}${type.bitOffset === 0 ? '' : `@${type.bitOffset}`}`
      case 'float':
        return `f${type.size * 8}`
      case 'ptr':
        return 'ptr'
      case 'enum':
      case 'enum64':
        return `${type.signed ? 's' : 'u'}${type.size * 8}`
      case 'array':
        return `${this.layout(type.type)}[${type.length}]`
      case 'struct':
      case 'union':
        return `${type.kind}(${type.size}){${type.members.map((m) =>
          `${m.name}@${m.bitOffset}${m.bitSize === 0 ? '' : `:${m.bitSize}`} ${this.layout(m.type)}`).join('; ')}}`
      default:
        return type.kind
    }
  }

  /** The members of a struct or union (through typedefs); none for other types. */
  members(id: number): BtfComposite['members'] {
    const type = this.resolve(id)
    return type.kind === 'struct' || type.kind === 'union' ? type.members : []
  }

  /**
   * Every type as C declarations, as a header in the form `bpftool btf dump … format c` writes
   * (a `vmlinux.h` for the kernel's BTF): include guard, CO-RE's `preserve_access_index` on every record
   * unless BPF_NO_PRESERVE_ACCESS_INDEX is defined, and — as bpftool — an `extern … __weak __ksym`
   * prototype of every kfunc (functions tagged `bpf_kfunc`) unless BPF_NO_KFUNC_PROTOTYPES is defined.
   */
  toC(): string {
    const handle = this.#native('btf.toC')
    return [
      '#ifndef __VMLINUX_H__',
      '#define __VMLINUX_H__',
      '',
      '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX',
      '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)',
      '#endif',
      '',
      '#ifndef __ksym',
      '#define __ksym __attribute__((section(".ksyms")))',
      '#endif',
      '',
      '#ifndef __weak',
      '#define __weak __attribute__((weak))',
      '#endif',
      '',
      handle.dumpC(true) + '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX',
      '#pragma clang attribute pop',
      '#endif',
      '',
      '#endif /* __VMLINUX_H__ */',
      '',
    ].join('\n')
  }

  /** Frees the native BTF now instead of at garbage collection. Types already read stay usable. */
  close(): void {
    this.#handle?.close()
  }
}
