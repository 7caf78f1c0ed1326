// MapHistogram: a map of slots (a key field, or an array value) as a Prometheus histogram.

import { z } from 'zod'
import type { BpfMap } from '../map'
import { makeBuckets, type Buckets } from './buckets'
import type { Field } from './fields'
import { keyFields, labelValues, planLabels, type Label } from './labels'
import { MapMetric, checkMap, isNumber, numberOf, registersOption, valueField, type MapMetricOptions, type Sample } from './map-metric'
import { MetricOptionError, histogramShape, parseOptions, strict, type HistogramSettings } from './options'

export type HistogramOptions = HistogramSettings & MapMetricOptions

const schema = strict({ ...histogramShape, map: z.unknown(), registers: registersOption })

const DEFAULT_SLOTS = ['slot', 'bucket']

/** The counts of one label set: per slot, and the program's sum. */
interface Group {
  labels: Record<string, string>
  counts: Map<number, number>
  sum: number
}

/** How the slots are laid out in the map: one entry per slot (a key field), or an array per entry. */
type Layout =
  | { kind: 'key'; slot: Field; count: (value: unknown) => number }
  | { kind: 'array'; slots: Field; length: number }

function isArrayOfNumbers(map: BpfMap, field: Field): boolean {
  if (field.kind !== 'array') return false
  const type = map.btf!.resolve(field.typeId)
  return type.kind === 'array' && ['int', 'enum', 'enum64', 'float'].includes(map.btf!.resolve(type.type).kind)
}

/** Each slot's count from an array field, summed over the CPUs of a per-CPU map. */
function addArray(map: BpfMap, field: Field, value: unknown, counts: Map<number, number>): void {
  const add = (slots: ArrayLike<number | bigint>): void => {
    for (let i = 0; i < slots.length; i++) {
      const n = Number(slots[i])
      if (n !== 0) counts.set(i, (counts.get(i) ?? 0) + n)
    }
  }
  if (map.perCpu) for (const perCpu of value as unknown[]) add(field.get(perCpu) as ArrayLike<number>)
  else add(field.get(value) as ArrayLike<number>)
}

/**
 * A Prometheus histogram over a BPF map of slot counts. The slot is a key field (`slot`, `bucket`, the
 * scalar key, or the one `slot` names) with the other key fields as labels, or the index of an array
 * value (`__u64 slots[27]`). `bucketType` says each slot's upper bound; missing slots count 0; the
 * buckets are cumulative, with +Inf, `_count` and — where the program keeps it (`sum`) — `_sum`.
 */
export class MapHistogram extends MapMetric {
  readonly type = 'histogram'
  readonly labelNames: readonly string[]
  readonly #labels: readonly Label[]
  readonly #layout: Layout
  readonly #buckets: Buckets
  readonly #bounds: readonly string[]
  readonly #multiplier: number
  readonly #sumSlot: number | undefined
  readonly #sumField: ((value: unknown) => number) | undefined

  constructor(options: HistogramOptions) {
    const settings = parseOptions(schema, options, 'MapHistogram') as HistogramOptions
    const map = checkMap(settings.map)
    const unit = settings.unit === undefined ? '' : `_${settings.unit}`
    super(settings.name.endsWith(unit) ? settings.name : `${settings.name}${unit}`, settings.help, map, settings.registers)
    const fields = keyFields(map)
    const valueArray = valueField(map, settings.value, (f) => isNumber(f) || isArrayOfNumbers(map, f), 'counts')
    if (valueArray.kind === 'array') {
      if (settings.slot !== undefined) throw new MetricOptionError(['slot'], `the value of '${map.name}' is an array of slots: slot names no key field then`)
      const type = map.btf!.resolve(valueArray.typeId)
      this.#layout = { kind: 'array', slots: valueArray, length: type.kind === 'array' ? type.length : 0 }
      this.#labels = planLabels(map, fields, settings.labels, new Set(), ['le'])
    } else {
      const paths = fields.map((f) => f.path)
      const slotPath = settings.slot ?? (fields.length === 1 ? fields[0]!.path : DEFAULT_SLOTS.find((name) => paths.includes(name)))
      const slot = fields.find((f) => f.path === slotPath)
      if (slot === undefined || slot.kind !== 'int') {
        throw new MetricOptionError(['slot'], slotPath === undefined
          ? `name the key field that holds the slot with slot: (fields: ${paths.join(', ')})`
          : `${map.btf!.typeName(map.keyType!.id)} has no integer field '${slotPath}' (integer fields: ${fields.filter((f) => f.kind === 'int').map((f) => f.path).join(', ') || 'none'})`)
      }
      this.#layout = { kind: 'key', slot, count: numberOf(map, valueArray) }
      this.#labels = planLabels(map, fields, settings.labels, new Set([slot.path]), ['le'])
    }
    this.labelNames = this.#labels.map((l) => l.name)
    const sum = settings.sum
    this.#sumSlot = sum !== undefined && 'slot' in sum ? sum.slot : undefined
    const bucketMax = settings.bucketMax ?? (this.#layout.kind === 'array' && settings.bucketType !== 'fixed'
      ? this.#layout.length - 1 - (this.#sumSlot !== undefined ? 1 : 0) : undefined)
    this.#buckets = makeBuckets({ ...settings, bucketMax })
    this.#multiplier = settings.bucketMultiplier ?? 1
    // 12 significant digits: 3 * 0.1 is le="0.3", not "0.30000000000000004".
    this.#bounds = this.#buckets.bounds.map((b) => String(Number(b.toPrecision(12))))
    if (sum !== undefined && 'field' in sum) {
      try {
        this.#sumField = numberOf(map, valueField(map, sum.field, isNumber, 'numbers'))
      } catch (error) {
        throw error instanceof MetricOptionError ? new MetricOptionError(['sum', 'field'], error.message.replace(/^value: /, '')) : error
      }
    }
    this.register()
  }

  collect(): Sample[] {
    const groups = new Map<string, Group>()
    const layout = this.#layout
    for (const [key, value] of this.map.getMany()) {
      const values = labelValues(this.#labels, key)
      if (values === null) continue
      const id = values.join('\u0000')
      let group = groups.get(id)
      if (group === undefined) {
        const labels: Record<string, string> = {}
        for (let i = 0; i < this.#labels.length; i++) labels[this.#labels[i]!.name] = values[i]!
        group = { labels, counts: new Map(), sum: 0 }
        groups.set(id, group)
      }
      if (this.#sumField !== undefined) group.sum += this.#sumField(value)
      if (layout.kind === 'array') {
        addArray(this.map, layout.slots, value, group.counts)
        continue
      }
      const slot = Number(layout.slot.get(key))
      const n = layout.count(value)
      group.counts.set(slot, (group.counts.get(slot) ?? 0) + n)
    }
    return [...groups.values()].flatMap((group) => this.#samples(group))
  }

  #samples(group: Group): Sample[] {
    const perBucket = new Float64Array(this.#bounds.length + 1)
    let sum = group.sum
    for (const [slot, n] of group.counts) {
      if (slot === this.#sumSlot) sum += n
      else perBucket[this.#buckets.index(slot)] += n
    }
    const samples: Sample[] = []
    const bucket = `${this.name}_bucket`
    let count = 0
    for (let i = 0; i < perBucket.length; i++) {
      count += perBucket[i]!
      samples.push({ metricName: bucket, labels: { ...group.labels, le: i < this.#bounds.length ? this.#bounds[i]! : '+Inf' }, value: count })
    }
    if (this.#sumSlot !== undefined || this.#sumField !== undefined) {
      samples.push({ metricName: `${this.name}_sum`, labels: group.labels, value: sum * this.#multiplier })
    }
    samples.push({ metricName: `${this.name}_count`, labels: group.labels, value: count })
    return samples
  }
}
