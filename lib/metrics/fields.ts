// The leaf fields of a map's key or value, from its BTF: nested and anonymous members flattened.

import type { Btf } from '../btf/btf'
import { isCharArray } from '../btf/codec'

/** How a field's decoded value looks, which decides its default label text. */
export type FieldKind = 'int' | 'enum' | 'string' | 'array' | 'float' | 'bool'

/** One leaf of a struct (or the whole of a scalar): where it is in the decoded value, and its type. */
export interface Field {
  /** Dotted path of named members, as in C (`disk.dev`); members of anonymous structs and unions sit on their parent. */
  readonly path: string
  readonly typeId: number
  readonly kind: FieldKind
  /** Reads the field from a decoded value. */
  readonly get: (value: any) => unknown
}

/** The path a scalar key or value goes by: it has no member name of its own. */
export const WHOLE = 'key'

function kindOf(btf: Btf, typeId: number): FieldKind | undefined {
  const type = btf.resolve(typeId)
  switch (type.kind) {
    case 'int':
      return type.bool ? 'bool' : 'int'
    case 'ptr':
      return 'int'
    case 'enum':
    case 'enum64':
      return 'enum'
    case 'float':
      return 'float'
    case 'array':
      return isCharArray(btf, typeId) ? 'string' : 'array'
    default:
      return undefined
  }
}

function getter(path: readonly string[]): (value: any) => unknown {
  if (path.length === 0) return (value) => value
  if (path.length === 1) {
    const [a] = path as [string]
    return (value) => value[a]
  }
  return (value) => {
    let v = value
    for (const name of path) v = v[name]
    return v
  }
}

/**
 * Every leaf of type `typeId`: a struct's members, depth first, in declaration order (a scalar or an
 * array is one field, `wholeName`).
 */
export function leafFields(btf: Btf, typeId: number, wholeName = WHOLE): Field[] {
  const fields: Field[] = []
  const visit = (id: number, path: string[]): void => {
    const type = btf.resolve(id)
    if (type.kind === 'struct' || type.kind === 'union') {
      for (const member of type.members) visit(member.type, member.name === '' ? path : [...path, member.name])
      return
    }
    const kind = kindOf(btf, id)
    if (kind === undefined) return
    fields.push({ path: path.length === 0 ? wholeName : path.join('.'), typeId: id, kind, get: getter(path) })
  }
  visit(typeId, [])
  return fields
}
