// The BTF type table as TypeScript sees it: one object per type, as the addon exports it.

export type BtfKind =
  | 'void' | 'int' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'typedef' | 'volatile' | 'const'
  | 'restrict' | 'func' | 'func_proto' | 'var' | 'datasec' | 'float' | 'decl_tag' | 'type_tag' | 'enum64'

export type Linkage = 'static' | 'global' | 'extern' | 'unknown'

interface Base {
  /** The type's id in its BTF (0 is void). */
  readonly id: number
  /** The type's name; '' for anonymous types. */
  readonly name: string
}

export interface BtfVoid extends Base { readonly kind: 'void' }

export interface BtfInt extends Base {
  readonly kind: 'int'
  readonly size: number
  /** Bits used (an int may use fewer bits than its size). */
  readonly bits: number
  readonly bitOffset: number
  readonly signed: boolean
  readonly char: boolean
  readonly bool: boolean
}

export interface BtfFloat extends Base { readonly kind: 'float'; readonly size: number }

/** Pointer, typedef and the modifiers: each refers to one other type. */
export interface BtfRef extends Base {
  readonly kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag'
  readonly type: number
}

export interface BtfArray extends Base {
  readonly kind: 'array'
  /** The element type. */
  readonly type: number
  readonly indexType: number
  readonly length: number
}

export interface BtfMember {
  /** '' for an anonymous struct or union member. */
  readonly name: string
  readonly type: number
  readonly bitOffset: number
  /** Bits of a bitfield; 0 for an ordinary member. */
  readonly bitSize: number
}

export interface BtfComposite extends Base {
  readonly kind: 'struct' | 'union'
  readonly size: number
  readonly members: readonly BtfMember[]
}

export interface BtfEnumValue {
  readonly name: string
  /** number for `enum`, bigint for `enum64`. */
  readonly value: number | bigint
}

export interface BtfEnum extends Base {
  readonly kind: 'enum' | 'enum64'
  readonly size: number
  readonly signed: boolean
  readonly values: readonly BtfEnumValue[]
}

export interface BtfFwd extends Base { readonly kind: 'fwd'; readonly union: boolean }

export interface BtfFunc extends Base { readonly kind: 'func'; readonly type: number; readonly linkage: Linkage }

export interface BtfFuncProto extends Base {
  readonly kind: 'func_proto'
  /** The return type. */
  readonly type: number
  readonly params: readonly { readonly name: string; readonly type: number }[]
}

export interface BtfVar extends Base { readonly kind: 'var'; readonly type: number; readonly linkage: Linkage }

export interface BtfDatasec extends Base {
  readonly kind: 'datasec'
  readonly size: number
  /** `type` is the id of a var. */
  readonly vars: readonly { readonly type: number; readonly offset: number; readonly size: number }[]
}

export interface BtfDeclTag extends Base {
  readonly kind: 'decl_tag'
  /** The tagged type (or var, or func). */
  readonly type: number
  /** The tagged member or parameter, or -1 for the type itself. */
  readonly componentIndex: number
}

export type BtfType =
  | BtfVoid | BtfInt | BtfFloat | BtfRef | BtfArray | BtfComposite | BtfEnum | BtfFwd | BtfFunc | BtfFuncProto
  | BtfVar | BtfDatasec | BtfDeclTag

/** BTF kind numbers, as btf__find_by_name_kind takes them. */
export const KIND_NUMBER: Readonly<Record<BtfKind, number>> = {
  void: 0, int: 1, ptr: 2, array: 3, struct: 4, union: 5, enum: 6, fwd: 7, typedef: 8, volatile: 9, const: 10,
  restrict: 11, func: 12, func_proto: 13, var: 14, datasec: 15, float: 16, decl_tag: 17, type_tag: 18, enum64: 19,
}
