// Labels from a map's key: which fields become labels, under which names, through which decoders.

import { BpfError } from '../errors'
import type { BpfMap } from '../map'
import { makeDecoder, string, type LabelDecoder } from './decoders'
import { leafFields, WHOLE, type Field } from './fields'
import { MetricOptionError, type LabelOption } from './options'

/** One label: the key field it comes from and the decoders its value goes through. */
export interface Label {
  readonly name: string
  readonly field: Field
  readonly decoders: readonly LabelDecoder[]
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** The decoder of a field with no decoders configured: text for char arrays, enumerator names for enums. */
function defaultDecoder(map: BpfMap, field: Field): LabelDecoder {
  switch (field.kind) {
    case 'string':
      return string()
    case 'enum': {
      const btf = map.btf!
      return (value) => btf.enumName(field.typeId, value as number | bigint) ?? String(value)
    }
    case 'array':
      return (value) => Array.from(value as ArrayLike<unknown>, String).join(',')
    default:
      return String
  }
}

/** The key's fields, checked: a map without BTF keys cannot be labelled. */
export function keyFields(map: BpfMap): Field[] {
  const keyType = map.keyType
  if (keyType === undefined) throw new MetricOptionError(['map'], `map '${map.name}' has no BTF key type`)
  return leafFields(map.btf!, keyType.id)
}

/**
 * The labels of `map`'s key fields, except the `used` ones (a histogram's slot). Each field is a label
 * named by its path (`disk.dev` → `disk_dev`) unless `options` leaves it out or renames it; a scalar key
 * has no name of its own, so it needs one (`labels: { key: 'cpu' }`).
 */
export function planLabels(map: BpfMap, fields: readonly Field[], options: Record<string, LabelOption> = {},
  used: ReadonlySet<string> = new Set(), reserved: readonly string[] = []): Label[] {
  const keyName = map.btf!.typeName(map.keyType!.id)
  const paths = fields.map((f) => f.path)
  for (const path of Object.keys(options)) {
    if (!paths.includes(path)) {
      throw new MetricOptionError(['labels', path], `${keyName} has no field '${path}' (fields: ${paths.join(', ')})`)
    }
    if (used.has(path) && options[path] !== false) throw new MetricOptionError(['labels', path], `'${path}' is the histogram's slot, not a label`)
  }
  const labels: Label[] = []
  for (const field of fields) {
    if (used.has(field.path)) continue
    const option = options[field.path]
    if (option === false) continue
    const spec = typeof option === 'string' ? { name: option } : option ?? {}
    if (spec.name === undefined && field.path === WHOLE && fields.length === 1) {
      throw new MetricOptionError(['labels'], `the key of '${map.name}' is a ${keyName}, not a struct: name its label, e.g. labels: { key: 'cpu' }`)
    }
    const name = spec.name ?? field.path.replace(/\./g, '_')
    const where = ['labels', field.path]
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new MetricOptionError(spec.name === undefined ? where : [...where, 'name'], `'${name}' is not a label name (letters, digits and _, not starting with __)`)
    }
    if (reserved.includes(name) || labels.some((l) => l.name === name)) {
      throw new MetricOptionError(where, `label '${name}' is ${reserved.includes(name) ? 'reserved' : 'already used'}: rename it with labels: { '${field.path}': 'other' }`)
    }
    const decoders = spec.decoders === undefined
      ? [defaultDecoder(map, field)]
      : spec.decoders.map((decoder, i) => {
        try {
          return makeDecoder(decoder as Parameters<typeof makeDecoder>[0])
        } catch (error) {
          if (!(error instanceof BpfError)) throw error
          throw new MetricOptionError([...where, 'decoders', i], error.message.replace(/^\w+: /, ''))
        }
      })
    labels.push({ name, field, decoders })
  }
  return labels
}

/** The label values of one key, or null when a decoder filtered the entry out. */
export function labelValues(labels: readonly Label[], key: unknown): string[] | null {
  const values = new Array<string>(labels.length)
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!
    let value: unknown = label.field.get(key)
    for (const decode of label.decoders) {
      value = decode(value)
      if (value === null) return null
    }
    values[i] = typeof value === 'string' ? value : String(value)
  }
  return values
}
