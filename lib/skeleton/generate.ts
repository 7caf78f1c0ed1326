// The skeleton generator: from a compiled object, one TypeScript module with a type for every struct,
// union and enum its maps, globals and events use, typed maps, programs and globals, and open().
//
// Naming rules (documented in the README):
// - A C type becomes its name in PascalCase: `struct seq_event` → `SeqEvent`.
// - A name that would shadow a TypeScript or JavaScript built-in, or a name this module declares
//   (`struct string`, `struct Map`, `struct Maps`), gets a trailing underscore: `String_`, `Map_`.
// - Two types with one name (from linked objects) are numbered in BTF order: `Event`, `Event_2`.
// - An anonymous struct, union or enum is named from where it is used: `<Parent>__anon_<member>`
//   for a member, `<Map>Key`/`<Map>Value` for a map, `<Section>__anon_<variable>` for a global. So
//   adding a type or a field elsewhere never renames it.
import { createHash } from 'node:crypto'
import * as path from 'node:path'
import { BpfObject } from '../object'
import { BpfError, isInstance } from '../errors'
import { MODIFIERS, type Btf } from '../btf/btf'
import { isCharArray, typedArrayOf } from '../btf/codec'
import type { BtfType } from '../btf/types'
import { layoutOf, shapesOf, type SkeletonSpec } from './runtime'
import { isBpfkitVariable } from '../globals'

export interface GenerateOptions {
  /** Where the object is (for the header and `embed: false`). */
  objectPath: string
  /** Where the module will be written (for `embed: false`: the object is found relative to it). */
  modulePath?: string | undefined
  /** The skeleton's name (default: the object's file name without `.bpf.o`). */
  name?: string | undefined
  /** Embed the object's bytes (default) or load it from its path next to the module. */
  embed?: boolean | undefined
  /** More types to describe (their C names), e.g. events of maps that do not declare them. */
  types?: readonly string[] | undefined
  /** How it was invoked, for the header and the regenerate hint. */
  command?: string | undefined
}

const RESERVED = new Set([
  'string', 'number', 'boolean', 'bigint', 'symbol', 'object', 'any', 'unknown', 'never', 'void', 'undefined', 'null',
  'Array', 'ReadonlyArray', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Object', 'Promise', 'Date', 'Error', 'Function',
  'String', 'Number', 'Boolean', 'Symbol', 'BigInt', 'RegExp', 'Record', 'Partial', 'Required', 'Readonly', 'Pick',
  'Omit', 'Exclude', 'Extract', 'Buffer', 'ArrayBuffer', 'DataView', 'Uint8Array', 'Int8Array', 'Uint16Array',
  'Int16Array', 'Uint32Array', 'Int32Array', 'BigUint64Array', 'BigInt64Array', 'Float32Array', 'Float64Array',
  'JSON', 'Math', 'Iterable', 'Iterator', 'Disposable', 'AsyncDisposable', 'ArrayLike', 'PropertyKey',
  // This module's own names.
  'Maps', 'Progs', 'Globals', 'Rodata', 'Data', 'Bss', 'Kconfig', 'Skeleton', 'LoadedSkeleton', 'BpfMap',
  'BpfProgram', 'RingBufferMap', 'PerfBufferMap', 'UserRingBufferMap', 'OpenOptions', 'OpenedSkeleton', 'SPEC', 'open', 'Init', 'Loaded',
  'SkeletonSpec', 'OBJECT', 'path', 'Int64', 'Int64Mode', 'I',
])

const SECTIONS: Record<string, string> = { '.rodata': 'rodata', '.data': 'data', '.bss': 'bss', '.kconfig': 'kconfig' }

/** An identifier made of `name` (anonymous-type hints contain variable names such as `f.st.0`). */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9_$]/g, '_')
}

function pascal(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((w) => w !== '')
  const joined = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')
  return /^[0-9]/.test(joined) || joined === '' ? `T${joined}` : joined
}

/** A C declaration of `name` with type `id`: `char comm[16]`, `const volatile __u32 x`, `void *p`. */
function cDeclaration(btf: Btf, id: number, name: string): string {
  let suffix = ''
  let type = btf.type(id)
  const target = type.kind === 'ptr' ? btf.type(type.type) : undefined
  if (target?.kind === 'func_proto') {
    return `${btf.typeName(target.type)} (*${name})(${target.params.map((p) => btf.typeName(p.type)).join(', ')})`
  }
  while (type.kind === 'array') {
    suffix += `[${type.length}]`
    type = btf.type(type.type)
  }
  const base = btf.typeName(type.id)
  return `${base}${base.endsWith('*') ? '' : ' '}${name}${suffix}`
}

function bytesOf(size: number): string {
  return size === 1 ? '1 byte' : `${size} bytes`
}

function chunks(text: string): string {
  const lines: string[] = []
  for (let i = 0; i < text.length; i += 100) lines.push(`  '${text.slice(i, i + 100)}',`)
  return lines.join('\n')
}

function property(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) && name !== '__proto__' ? name : JSON.stringify(name)
}

/** What a skeleton module knows of one object. */
class Generator {
  readonly #btf: Btf
  readonly #names = new Map<number, string>()
  readonly #taken = new Set<string>(RESERVED)
  readonly #order: number[] = []
  readonly #declarations: string[] = []

  constructor(btf: Btf) {
    this.#btf = btf
  }

  /** The TypeScript type of values of BTF type `id`, naming (and emitting) composites and enums. */
  tsType(id: number, hint: string): string {
    const btf = this.#btf
    // An anonymous struct, union or enum behind a typedef takes the typedef's name.
    let walk = btf.type(id)
    for (let depth = 0; depth < 32 && MODIFIERS.has(walk.kind); depth++) {
      if (walk.kind === 'typedef') hint = safe(pascal(walk.name))
      walk = btf.type((walk as { type: number }).type)
    }
    const type = btf.resolve(id)
    switch (type.kind) {
      case 'int':
        if (type.bool) return 'boolean'
        return type.size <= 4 ? 'number' : 'bigint'
      case 'float':
        return 'number'
      case 'ptr':
        return 'bigint'
      case 'enum':
      case 'enum64':
        return this.#named(type, hint)
      case 'array': {
        // As the codec decodes them.
        if (isCharArray(btf, type.id)) return 'string'
        const typed = typedArrayOf(btf, type.type)
        if (typed !== undefined) return typed
        const inner = this.tsType(type.type, hint)
        return /[|&]/.test(inner) ? `Array<${inner}>` : `${inner}[]`
      }
      case 'struct':
      case 'union':
        return this.#named(type, hint)
      default:
        return 'never'
    }
  }

  /**
   * The TypeScript type of values of BTF type `id` in a skeleton generic over how 64-bit integers
   * decode (its `I`): `Int64<T, I>` when the value holds one, else plain.
   */
  tsType64(id: number, hint: string): string {
    const type = this.tsType(id, hint)
    return this.#wide(id) ? `Int64<${type}, I>` : type
  }

  /** Whether a value of type `id` holds an integer wider than 32 bits (a bigint by default). */
  #wide(id: number, depth = 0): boolean {
    const type = this.#btf.resolve(id)
    switch (type.kind) {
      case 'int':
        return !type.bool && type.size > 4
      case 'enum':
        return type.size > 4
      case 'enum64':
      case 'ptr':
        return true
      case 'array':
        return !isCharArray(this.#btf, type.id) && depth < 32 && this.#wide(type.type, depth + 1)
      case 'struct':
      case 'union':
        return depth < 32 && type.members.some((m) => (m.bitSize !== 0 ? m.bitSize > 32 && this.bitfield(m.type) === 'bigint' : this.#wide(m.type, depth + 1)))
      default:
        return false
    }
  }

  /** The TypeScript type of a bitfield of type `id`. */
  bitfield(id: number): string {
    const type = this.#btf.resolve(id)
    if (type.kind === 'int' && type.bool) return 'boolean'
    return this.#btf.sizeOf(id) > 4 ? 'bigint' : 'number'
  }

  /**
   * A free name for a declaration: a built-in or one of the module's own names gets a trailing
   * underscore, a name already given is numbered (`_2`, `_3`…).
   */
  reserve(wanted: string): string {
    let name = RESERVED.has(wanted) ? `${wanted}_` : wanted
    if (this.#taken.has(name)) {
      let n = 2
      while (this.#taken.has(`${name}_${n}`)) n++
      name = `${name}_${n}`
    }
    this.#taken.add(name)
    return name
  }

  get declarations(): string[] {
    return this.#declarations
  }

  /** The layout of every emitted composite and enum, for the staleness check. */
  layout(): SkeletonSpec['layout'] {
    return this.#order.map((id) => layoutOf(this.#btf, this.#btf.type(id)))
  }

  #named(type: Extract<BtfType, { kind: 'struct' | 'union' | 'enum' | 'enum64' }>, hint: string): string {
    const known = this.#names.get(type.id)
    if (known !== undefined) return known
    const name = this.reserve(type.name === '' ? safe(hint) : pascal(type.name))
    this.#names.set(type.id, name)
    this.#order.push(type.id)
    if (type.kind === 'struct' || type.kind === 'union') this.#declarations.push(this.#composite(type, name))
    else this.#declarations.push(this.#enum(type as Extract<BtfType, { kind: 'enum' | 'enum64' }>, name))
    return name
  }

  #enum(type: Extract<BtfType, { kind: 'enum' | 'enum64' }>, name: string): string {
    // A literal's key `"__proto__"` would set the prototype: a computed key makes it a member.
    // By size, as the codecs decode it: an 8-byte ENUM (clang before 15 writes 64-bit enums so) is a bigint too.
    const values = type.values.map((v) => `  ${v.name === '__proto__' ? '["__proto__"]' : property(v.name)}: ${type.size > 4 ? `${BigInt(v.value)}n` : v.value},`)
    const c = `enum ${type.name || '(anonymous)'}`
    return [
      `/** ${c} (${bytesOf(type.size)}): its names and values. */`,
      `export const ${name} = {`,
      ...values,
      '} as const',
      `/** ${c}: one of its values (${type.size > 4 ? 'bigint' : 'number'}). */`,
      `export type ${name} = ${type.values.length === 0 ? (type.size > 4 ? 'bigint' : 'number') : `(typeof ${name})[keyof typeof ${name}]`}`,
    ].join('\n')
  }

  #composite(type: Extract<BtfType, { kind: 'struct' | 'union' }>, name: string): string {
    const lines = [`/** ${type.kind} ${type.name || '(anonymous)'} (${bytesOf(type.size)})${type.kind === 'union' ? ': every member, decoded from the same bytes' : ''} */`,
      `export interface ${name} {`]
    const fields = (id: number, base: number): void => {
      const composite = this.#btf.resolve(id) as Extract<BtfType, { kind: 'struct' | 'union' }>
      for (const m of composite.members) {
        const inner = this.#btf.resolve(m.type)
        if (m.name === '' && (inner.kind === 'struct' || inner.kind === 'union')) {
          fields(m.type, base + m.bitOffset) // anonymous: its fields are the parent's, as C reads them
          continue
        }
        if (m.name === '') continue
        const bits = m.bitSize !== 0 || (inner.kind === 'int' && (inner.bits !== inner.size * 8 || inner.bitOffset !== 0))
        const width = m.bitSize !== 0 ? m.bitSize : inner.kind === 'int' ? inner.bits : 0
        const offset = base + m.bitOffset
        const where = bits ? `bit offset ${offset}, ${width} bits` : `offset ${offset / 8}`
        const tsType = bits ? this.bitfield(m.type) : this.tsType(m.type, `${name}__anon_${m.name}`)
        lines.push(`  /** ${cDeclaration(this.#btf, m.type, m.name)}${bits ? `:${width}` : ''}; ${where} */`)
        lines.push(`  ${property(m.name)}: ${tsType}`)
      }
    }
    fields(type.id, 0)
    if (lines.length === 2) return `${lines[0]}\nexport interface ${name} {}`
    lines.push('}')
    return lines.join('\n')
  }
}

function noBtf(objectPath: string): BpfError {
  return new BpfError(`gen skeleton: ${objectPath} has no BTF`, {
    code: 'ENOBTF',
    op: 'gen skeleton',
    hint: 'compile with clang -g (and strip with llvm-strip -g, which keeps BTF)',
  })
}

/** Generates the skeleton module of the object at `options.objectPath` (its bytes are `bytes`). */
export function generateSkeleton(bytes: Uint8Array, options: GenerateOptions): string {
  if (!isInstance(bytes, Uint8Array)) throw new BpfError('gen skeleton: expected the object bytes (Uint8Array)', { code: 'EINVAL', op: 'gen skeleton' })
  if (options === null || typeof options !== 'object' || typeof options.objectPath !== 'string') {
    throw new BpfError('gen skeleton: options.objectPath must be the path the object is read from', { code: 'EINVAL', op: 'gen skeleton' })
  }
  const objectName = path.basename(options.objectPath)
  const name = options.name ?? objectName.replace(/\.bpf\.o$|\.o$/, '')
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16)
  const command = options.command ?? `bpfkit gen skeleton ${options.objectPath}`
  let object: BpfObject
  try {
    object = BpfObject.open(bytes, { objectName: name, logger: () => {} })
  } catch (error) {
    const elf = Buffer.from(bytes.subarray(0, 4)).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
    // An object without a .BTF section cannot even be opened when it declares maps the BTF way.
    if (error instanceof BpfError && elf && !Buffer.from(bytes).includes('\0.BTF\0')) throw noBtf(options.objectPath)
    if (error instanceof BpfError && (!elf || error.code === 'ELIBELF' || error.code === 'EFORMAT')) {
      throw new BpfError(`gen skeleton: ${options.objectPath} is not a BPF ELF object`, {
        code: error.code,
        op: 'gen skeleton',
        hint: 'give it the .bpf.o that clang -g -target bpf wrote',
      })
    }
    throw error
  }
  try {
    const btf = object.btf
    if (btf === undefined) throw noBtf(options.objectPath)
    const gen = new Generator(btf)
    const mapLines: string[] = []
    const specMaps: Array<[string, string]> = []
    const sections: Record<string, string> = {}
    const globalsLines: string[] = []
    const custom: string[] = []
    for (const map of object.maps) {
      if (map.isInternal) {
        const datasec = map.handle.btfValueTypeId === 0 ? undefined : btf.resolve(map.handle.btfValueTypeId)
        if (datasec?.kind !== 'datasec') continue
        const key = SECTIONS[datasec.name] ?? null
        const iface = key === null ? gen.reserve(`Section${pascal(datasec.name)}`) : pascal(key)
        // Statics of one name from linked units: the first is the one `obj.globals()` gives.
        const seen = new Set<string>()
        // bpfkit.bpf.h's own variables (a ring buffer's event type) are not the program's globals.
        const vars = datasec.vars.map((v) => btf.type(v.type))
          .filter((v): v is Extract<BtfType, { kind: 'var' }> => v.kind === 'var' && !isBpfkitVariable(btf, v.id) &&
            !seen.has(v.name) && seen.add(v.name) !== undefined)
        const members = vars.map((v) => {
          const sv = datasec.vars.find((s) => s.type === v.id)!
          const type = gen.tsType(v.type, `${iface}__anon_${v.name}`)
          // Read as decoded; written as any value the encoder takes (omitted fields are zero).
          return `  /** ${cDeclaration(btf, v.type, v.name)}; offset ${sv.offset} */\n` +
            `  get ${property(v.name)}(): ${gen.tsType64(v.type, `${iface}__anon_${v.name}`)}\n  set ${property(v.name)}(value: Init<${type}>)`
        })
        globalsLines.push(`/** The globals of ${datasec.name}. */\nexport interface ${iface}<${int64Param(members.join('\n'))}> {${members.length === 0 ? '' : `\n${members.join('\n')}\n`}}`)
        if (key !== null) sections[key] = datasec.name
        else custom.push(`    ${JSON.stringify(datasec.name)}: ${iface}<I>`)
        continue
      }
      const kind = map.type === 'ringbuf' ? 'ringbuf' : map.type === 'perf_event_array' ? 'perf' : map.type === 'user_ringbuf' ? 'userringbuf' : 'map'
      specMaps.push([map.name, kind])
      let type: string
      if (kind === 'ringbuf' || kind === 'perf') {
        // The event type BPFKIT_RINGBUF or BPFKIT_PERFBUF recorded, else raw records.
        const declared = btf.find(`${map.name}__bpfkit_event`, 'var')
        const pointer = declared?.kind === 'var' ? btf.resolve(declared.type) : undefined
        const hint = `${pascal(map.name)}Event`
        const event = pointer?.kind === 'ptr' ? gen.tsType64(pointer.type, hint) : 'Buffer'
        // With a 64-bit field, the bigint form too, for a reader that asks for it whatever the skeleton's int64.
        const bigint = pointer?.kind === 'ptr' ? gen.tsType(pointer.type, hint) : 'Buffer'
        type = `${kind === 'ringbuf' ? 'RingBufferMap' : 'PerfBufferMap'}<${event === bigint ? event : `${event}, ${bigint}`}>`
      } else if (kind === 'userringbuf') {
        const declared = btf.find(`${map.name}__bpfkit_event`, 'var')
        const pointer = declared?.kind === 'var' ? btf.resolve(declared.type) : undefined
        type = `UserRingBufferMap<${pointer?.kind === 'ptr' ? gen.tsType(pointer.type, `${pascal(map.name)}Record`) : 'Buffer'}>`
      } else {
        const keyId = map.handle.btfKeyTypeId
        const valueId = map.handle.btfValueTypeId
        const keyless = map.keySize === 0
        if (valueId === 0 || (keyId === 0 && !keyless)) {
          type = 'BpfMap'
        } else {
          const key = keyless ? 'never' : gen.tsType64(keyId, `${pascal(map.name)}Key`)
          const value = gen.tsType64(valueId, `${pascal(map.name)}Value`)
          type = `BpfMap<${key}, ${map.perCpu ? `Array<${value}>` : value}>`
        }
      }
      mapLines.push(`  /** ${map.type} map '${map.name}' */\n  ${property(map.name)}: ${type}`)
    }
    for (const given of options.types ?? []) {
      // As C names it (`struct event`) or by its name alone (`event`).
      const [, kind, extra = given] = /^(struct|union|enum) +(\S+)$/.exec(given.trim()) ?? []
      const kinds = kind === undefined ? (['struct', 'union', 'enum', 'enum64', 'typedef'] as const)
        : kind === 'enum' ? (['enum', 'enum64'] as const) : ([kind as 'struct' | 'union'] as const)
      const found = kinds.map((k) => btf.find(extra, k)).find((t) => t !== undefined)
      if (found === undefined) {
        throw new BpfError(`gen skeleton: no type named '${given}' in ${options.objectPath}'s BTF`, { code: 'ENOENT', op: 'gen skeleton' })
      }
      gen.tsType(found.id, pascal(extra))
    }
    const progs = object.programs.map((p) => p.name)
    const embed = options.embed ?? true
    let source: string
    if (embed) {
      source = `{ base64: OBJECT }`
    } else {
      const relative = path.relative(path.dirname(options.modulePath ?? options.objectPath), options.objectPath)
      source = `{ path: path.join(__dirname, ${JSON.stringify(relative.split(path.sep).join('/'))}) }`
    }
    const globals = ['rodata', 'data', 'bss', 'kconfig'].map((key) => `  ${key}: ${key in sections ? `${pascal(key)}<I>` : 'undefined'}`)
    globals.push(custom.length === 0 ? '  custom: {}' : `  custom: {\n${custom.join('\n')}\n  }`)
    const spec = {
      name,
      command,
      layout: gen.layout(),
      shapes: shapesOf(object),
      sections,
      maps: specMaps,
      progs,
    }
    const out = [
      `// Generated by ${command}`,
      `// from ${objectName} (sha256 ${hash}). Do not edit: regenerate instead.`,
      '/* eslint-disable */',
      ...(embed ? [] : ["import * as path from 'node:path'"]),
      IMPORTS,
      '',
      ...gen.declarations.flatMap((d) => [d, '']),
      ...globalsLines.flatMap((d) => [d, '']),
      `/** The maps of ${objectName} (\`I\`: how 64-bit integers decode, see open()). */`,
      mapLines.length === 0 ? `export interface Maps<${int64Param('')}> {}`
        : `export interface Maps<${int64Param(mapLines.join('\n'))}> {\n${mapLines.join('\n')}\n}`,
      '',
      `/** The programs of ${objectName}. */`,
      progs.length === 0 ? 'export interface Progs {}' : `export interface Progs {\n${progs.map((p) => `  ${property(p)}: BpfProgram`).join('\n')}\n}`,
      '',
      `/** The global sections of ${objectName} (undefined: the object has none). */`,
      `export interface Globals<${int64Param(globals.join('\n'))}> {\n${globals.join('\n')}\n}`,
      '',
      `export type Skeleton<I extends Int64Mode = 'bigint'> = OpenedSkeleton<Maps<I>, Progs, Globals<I>>`,
      `export type Loaded<I extends Int64Mode = 'bigint'> = LoadedSkeleton<Maps<I>, Progs, Globals<I>>`,
      '',
      ...(embed ? [`/** ${objectName}, base64. */`, `const OBJECT = [\n${chunks(Buffer.from(bytes).toString('base64'))}\n].join('')`, ''] : []),
      `const SPEC: SkeletonSpec = ${JSON.stringify({ ...spec, object: '__SOURCE__' }, null, 2).replace(/\n {6,}/g, ' ').replace(/\n {4}\]/g, ' ]')}`
        .replace('"__SOURCE__"', source),
      '',
      `/**`,
      ` * Opens ${objectName} (nothing reaches the kernel until load()), checking it matches this skeleton.`,
      ` * With \`{ int64: 'number' }\`, its maps, globals and readers decode 64-bit integers as numbers.`,
      ` */`,
      "export function open(options: OpenOptions & { int64: 'number' }): Skeleton<'number'>",
      'export function open(options?: OpenOptions): Skeleton',
      "export function open(options?: OpenOptions): Skeleton | Skeleton<'number'> {",
      '  return openSkeleton<Maps, Progs, Globals>(SPEC, options)',
      '}',
      '',
    ]
    // What the module uses of bpfkit's, only (noUnusedLocals).
    const body = out.join('\n')
    // The code alone: not its comments, nor the embedded object's base64 (where `/Init+` could be).
    const code = body.replace(IMPORTS, '').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/'[A-Za-z0-9+/=]*'/g, "''")
    const used = SKELETON_IMPORTS.filter((name) => new RegExp(`\\b${name}\\b`).test(code))
    return body.replace(IMPORTS, `import { ${used.map((name) => (name === 'openSkeleton' ? name : `type ${name}`)).join(', ')} } from 'bpfkit'`)
  } finally {
    object.close()
  }
}

// What a skeleton may import from bpfkit; the module imports those it uses.
const SKELETON_IMPORTS = ['openSkeleton', 'BpfMap', 'BpfProgram', 'LoadedSkeleton', 'OpenedSkeleton', 'OpenOptions', 'PerfBufferMap',
  'RingBufferMap', 'SkeletonSpec', 'Init', 'Int64', 'Int64Mode', 'UserRingBufferMap']
const IMPORTS = '__BPFKIT_IMPORTS__'

/** A generated interface's 64-bit mode parameter: `_I` where its `body` does not use it (noUnusedParameters). */
function int64Param(body: string): string {
  return `${/\bI\b/.test(body) ? 'I' : '_I'} extends Int64Mode = 'bigint'`
}
