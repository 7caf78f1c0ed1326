// Globals: the variables of a global data section (.rodata, .data, .bss, .data.*, .rodata.*), typed by BTF.
import { BpfError } from './errors'
import type { Btf } from './btf/btf'
import { isCharArray, typedArrayViews, type Codec, type Int64Mode } from './btf/codec'
import type { MapHandle } from './native'

/** A section's variables by name: `obj.rodata.min_uid = 1000`, `obj.bss.counter`. */
export type Globals = Record<string, any>

interface Variable {
  id: number
  name: string
  offset: number
  codec: Codec
  scratch: Buffer
}

/** Whether a global is bpfkit.bpf.h's (tagged `bpfkit.…`: BPFKIT_RINGBUF's event type) rather than the program's. */
export function isBpfkitVariable(btf: Btf, id: number): boolean {
  return btf.declTags(id).some((tag) => tag.startsWith('bpfkit.'))
}

/**
 * Where a value lives in a section: its byte offset and BTF type, or — for a bitfield — the struct that
 * holds it and the field's name.
 */
interface Place {
  offset: number
  type: number
  bitfield?: { parent: Place; name: string; bitOffset: number; bitSize: number }
}

/**
 * The variables of the section whose data lives in `map`. Reads and writes go to libbpf's initial
 * image before load and to the kernel's memory (mmap()ed, no syscall) after; read-only sections refuse
 * writes after load. Writing an unknown name throws instead of quietly adding a property.
 *
 * A struct, union or array variable reads as its value at that moment (a copy), whose fields write
 * through: `bss.s.point.x = 1` or `bss.s.counts[2] = 7` writes just that field's bytes (and the copy).
 */
export function globalsOf(map: MapHandle, btf: Btf, section: string, int64: Int64Mode): Globals {
  const datasec = btf.resolve(map.btfValueTypeId)
  if (datasec.kind !== 'datasec') {
    throw new BpfError(`globals: ${section} has no BTF variables`, { code: 'ENOBTF', op: 'globals' })
  }
  const variables = new Map<string, Variable>()
  for (const v of datasec.vars) {
    const variable = btf.type(v.type)
    // Statics of one name from linked units: the first one.
    if (variable.kind !== 'var' || variables.has(variable.name)) continue
    variables.set(variable.name, { id: variable.id, name: variable.name, offset: v.offset, codec: btf.compiled(variable.type, int64), scratch: Buffer.alloc(v.size) })
  }
  const names = (): string => [...variables.keys()].join(', ') || 'none'
  const find = (name: string | symbol, op: string): Variable => {
    const variable = typeof name === 'string' ? variables.get(name) : undefined
    if (variable === undefined) {
      throw new BpfError(`${section}: no global variable '${String(name)}' (variables: ${names()})`, { code: 'ENOENT', op })
    }
    return variable
  }
  const target: Globals = Object.create(null)
  for (const name of variables.keys()) {
    Object.defineProperty(target, name, {
      // bpfkit.bpf.h's variables (a ring buffer's event type) are there, but not listed.
      enumerable: !isBpfkitVariable(btf, variables.get(name)!.id),
      get: () => read(find(name, 'globals.get')),
      set: (value: unknown) => write(name, find(name, 'globals.set'), value),
    })
  }
  Object.preventExtensions(target)
  const nested = nestedViews(map, btf, section, int64)
  const read = (v: Variable): unknown => {
    const view = nested.view({ offset: v.offset, type: v.codec.typeId }, v.name)
    if (view !== undefined) return view
    map.readGlobal(v.offset, v.scratch)
    return v.codec.decode(v.scratch, 0)
  }
  const write = (name: string, v: Variable, value: unknown): void => {
    if (section === '.kconfig') {
      throw new BpfError(`.kconfig.${name}: libbpf fills .kconfig from the kernel's configuration at load`, {
        code: 'EROFS',
        op: 'globals.set',
      })
    }
    nested.write({ offset: v.offset, type: v.codec.typeId }, value, `${section}.${name}`)
  }
  return new Proxy(target, {
    set(t, name, value) {
      find(name, 'globals.set')
      return Reflect.set(t, name, value)
    },
    defineProperty(_t, name) {
      throw new BpfError(`${section}: cannot define '${String(name)}': the variables are fixed by the object`, {
        code: 'EINVAL',
        op: 'globals.set',
      })
    },
    deleteProperty(_t, name) {
      throw new BpfError(`${section}: cannot delete '${String(name)}'`, { code: 'EINVAL', op: 'globals.set' })
    },
  })
}

/** A struct or union member as the decoded object shows it: anonymous members flattened in. */
interface Field {
  type: number
  bitOffset: number
  bitSize: number
}

/** The fields of a struct or union by name, as its codec decodes them (anonymous members flattened). */
function fieldsOf(btf: Btf, id: number): Map<string, Field> {
  const fields = new Map<string, Field>()
  const visit = (type: number, base: number): void => {
    for (const m of btf.members(type)) {
      const inner = btf.resolve(m.type)
      if (m.name === '' && (inner.kind === 'struct' || inner.kind === 'union')) visit(m.type, base + m.bitOffset)
      else if (m.name !== '' && !fields.has(m.name)) fields.set(m.name, { type: m.type, bitOffset: base + m.bitOffset, bitSize: m.bitSize })
    }
  }
  visit(id, 0)
  return fields
}

/** Array methods that change the elements in place: on a global, they write the whole array. */
const REORDERING = new Set(['fill', 'set', 'sort', 'reverse', 'copyWithin'])
/** Array methods that change the length, which a C array does not have to change. */
const RESIZING = new Set(['push', 'pop', 'shift', 'unshift', 'splice'])

/**
 * Write-through values of the structs, unions and arrays of a section: a write encodes one place and
 * writes its bytes only, so what the program writes elsewhere meanwhile stays.
 */
function nestedViews(map: MapHandle, btf: Btf, section: string, int64: Int64Mode): {
  view(place: Place, path: string): object | undefined
  write(place: Place, value: unknown, path: string): void
} {
  const bytesOf = (offset: number, size: number): Buffer => {
    const buffer = Buffer.alloc(size)
    map.readGlobal(offset, buffer)
    return buffer
  }
  const readPlace = (place: Place): unknown => {
    if (place.bitfield !== undefined) {
      const parent = place.bitfield.parent
      return (btf.compiled(parent.type, int64).decode(bytesOf(parent.offset, btf.sizeOf(parent.type)), 0) as Record<string, unknown>)[place.bitfield.name]
    }
    return btf.compiled(place.type, int64).decode(bytesOf(place.offset, btf.sizeOf(place.type)), 0)
  }
  const write = (place: Place, value: unknown, path: string): void => {
    if (place.bitfield !== undefined) {
      // The bytes that hold the bitfield, from its parent encoded with the new value.
      const { parent, name, bitOffset, bitSize } = place.bitfield
      const codec = btf.compiled(parent.type, int64)
      const decoded = codec.decode(bytesOf(parent.offset, codec.size), 0) as Record<string, unknown>
      decoded[name] = value
      const encoded = Buffer.alloc(codec.size)
      // The parent's path: the codec names the field.
      codec.encodeInto(decoded, encoded, 0, path.endsWith(`.${name}`) ? path.slice(0, -name.length - 1) : path)
      const first = Math.floor(bitOffset / 8)
      map.writeGlobal(parent.offset + first, encoded.subarray(first, Math.ceil((bitOffset + bitSize) / 8)))
      return
    }
    const codec = btf.compiled(place.type, int64)
    const bytes = Buffer.alloc(codec.size)
    codec.encodeInto(value, bytes, 0, path)
    map.writeGlobal(place.offset, bytes)
  }
  const childOf = (place: Place, key: string | symbol, path: string): Place | undefined => {
    const type = btf.resolve(place.type)
    if (type.kind === 'array') {
      const index = typeof key === 'string' && /^(0|[1-9]\d*)$/.test(key) ? Number(key) : -1
      if (index < 0 || index >= type.length) return undefined
      return { offset: place.offset + index * btf.sizeOf(type.type), type: type.type }
    }
    const field = typeof key === 'string' ? fieldsOf(btf, place.type).get(key) : undefined
    if (field === undefined) {
      if (typeof key === 'string') {
        throw new BpfError(`${path}: no field '${key}' (fields: ${[...fieldsOf(btf, place.type).keys()].join(', ')})`, {
          code: 'ENOENT', op: 'globals.set', origin: 'argument',
        })
      }
      return undefined
    }
    const inner = btf.resolve(field.type)
    const bits = field.bitSize !== 0 || (inner.kind === 'int' && (inner.bits !== inner.size * 8 || inner.bitOffset !== 0))
    if (bits) {
      return { offset: place.offset, type: field.type, bitfield: { parent: place, name: key as string, bitOffset: field.bitOffset, bitSize: field.bitSize || (inner.kind === 'int' ? inner.bits : 0) } }
    }
    return { offset: place.offset + field.bitOffset / 8, type: field.type }
  }
  const composite = (id: number): boolean => {
    const type = btf.resolve(id)
    return type.kind === 'struct' || type.kind === 'union' || (type.kind === 'array' && !isCharArray(btf, type.id))
  }
  // A value read from the section, whose writes go to the section: a proxy over the value as decoded
  // (so it reads as a copy, also after close), each write encoding one place and updating the copy.
  const view = (place: Place, path: string, value: unknown = readPlace(place)): object | undefined => {
    if (place.bitfield !== undefined || !composite(place.type) || typeof value !== 'object' || value === null) return undefined
    const target = value as Record<string | symbol, unknown>
    const children = new Map<string, object>()
    const child = (key: string, at: Place): unknown => {
      const current = target[key]
      let nested = children.get(key)
      if (nested === undefined) {
        nested = view(at, `${path}${Array.isArray(target) || ArrayBuffer.isView(target) ? `[${key}]` : `.${key}`}`, current)
        if (nested !== undefined) children.set(key, nested)
      }
      return nested ?? current
    }
    const proxy: object = new Proxy(target, {
      get(t, key) {
        const at = typeof key === 'string' && Object.hasOwn(t, key) ? childOf(place, key, path) : undefined
        if (at !== undefined) return child(key as string, at)
        const member = Reflect.get(t, key, t)
        const typed = ArrayBuffer.isView(t)
        if (typeof member !== 'function' || !(Array.isArray(t) || typed)) return member
        const method = member as (...a: unknown[]) => unknown
        if (typeof key === 'string' && RESIZING.has(key)) {
          throw new BpfError(`${path}.${key}(): ${path} is a C array of ${t.length} elements, whose length is fixed`, {
            code: 'EINVAL', op: 'globals.set', origin: 'argument', hint: `assign elements, or fill()`,
          })
        }
        // Reading methods only read: a typed array's run on the copy (they need a real typed array),
        // an array's on the proxy (whose elements are views that write through).
        if (typeof key !== 'string' || !REORDERING.has(key)) return typed ? method.bind(t) : method
        // One that changes the elements (fill, sort, set…) changes a copy, writes it, and only then the
        // value as read: a refused write changes neither.
        return (...args: unknown[]) => {
          const copy = typed ? (t as unknown as Uint8Array).slice() : [...(t as unknown as unknown[])]
          let result: unknown
          try {
            result = method.apply(copy, args)
          } catch (error) {
            throw new BpfError(`${path}.${key}(): ${(error as Error).message}`, { code: 'EINVAL', op: 'globals.set', origin: 'argument' })
          }
          write(place, copy, path)
          if (typed) (t as unknown as Uint8Array).set(copy as Uint8Array)
          else (t as unknown as unknown[]).splice(0, (t as unknown as unknown[]).length, ...(copy as unknown[]))
          children.clear()
          return result === copy ? proxy : result
        }
      },
      set(t, key, value) {
        const at = typeof key === 'string' ? childOf(place, key, path) : undefined
        if (at === undefined) {
          throw new BpfError(`${path}: no ${Array.isArray(t) || ArrayBuffer.isView(t) ? 'element' : 'field'} ${String(key)}`, {
            code: 'EINVAL', op: 'globals.set', origin: 'argument',
          })
        }
        write(at, value, Array.isArray(t) || ArrayBuffer.isView(t) ? `${path}[${key as string}]` : `${path}.${key as string}`)
        ;(t as Record<string, unknown>)[key as string] = readPlace(at)
        children.delete(key as string)
        return true
      },
      defineProperty() {
        throw new BpfError(`${path}: its fields are fixed by the object`, { code: 'EINVAL', op: 'globals.set', origin: 'argument' })
      },
      deleteProperty() {
        throw new BpfError(`${path}: its fields are fixed by the object`, { code: 'EINVAL', op: 'globals.set', origin: 'argument' })
      },
    })
    if (ArrayBuffer.isView(target)) typedArrayViews.set(proxy, target)
    return proxy
  }
  return { view: (place, path) => view(place, `${section}.${path}`), write }
}
