// Globals: the variables of a global data section (.rodata, .data, .bss, .data.*, .rodata.*), typed by BTF.
import { BpfError } from './errors'
import type { Btf } from './btf/btf'
import type { Codec, Int64Mode } from './btf/codec'
import type { MapHandle } from './native'

/** A section's variables by name: `obj.rodata.min_uid = 1000`, `obj.bss.counter`. */
export type Globals = Record<string, any>

interface Variable {
  offset: number
  codec: Codec
  scratch: Buffer
}

/**
 * The variables of the section whose data lives in `map`. Reads and writes go to libbpf's initial
 * image before load and to the kernel's memory (mmap()ed, no syscall) after; read-only sections refuse
 * writes after load. Writing an unknown name throws instead of quietly adding a property.
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
    variables.set(variable.name, { offset: v.offset, codec: btf.compiled(variable.type, int64), scratch: Buffer.alloc(v.size) })
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
      enumerable: true,
      get: () => read(find(name, 'globals.get')),
      set: (value: unknown) => write(name, find(name, 'globals.set'), value),
    })
  }
  Object.preventExtensions(target)
  const read = (v: Variable): unknown => {
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
    const bytes = Buffer.alloc(v.scratch.length)
    v.codec.encodeInto(value, bytes, 0, `${section}.${name}`)
    map.writeGlobal(v.offset, bytes)
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
