// MapCounter and MapGauge: one sample per label set of a map's keys, valued by its entries.

import { keyFields, labelValues, planLabels, type Label } from './labels'
import { MapMetric, checkMap, isNumber, numberOf, registersOption, valueField, type MapMetricOptions, type Sample } from './map-metric'
import { counterShape, parseOptions, strict, type CounterSettings } from './options'
import { z } from 'zod'

export type CounterOptions = CounterSettings & MapMetricOptions

const schema = strict({ ...counterShape, map: z.unknown(), registers: registersOption })

abstract class MapValueMetric extends MapMetric {
  readonly labelNames: readonly string[]
  readonly #labels: readonly Label[]
  readonly #value: (value: unknown) => number

  protected constructor(options: CounterOptions, what: string) {
    const settings = parseOptions(schema, options, what) as CounterOptions
    const map = checkMap(settings.map)
    super(settings.name, settings.help, map, settings.registers)
    this.#labels = planLabels(map, keyFields(map), settings.labels)
    this.labelNames = this.#labels.map((l) => l.name)
    this.#value = numberOf(map, valueField(map, settings.value, isNumber, 'numbers'))
    this.register()
  }

  collect(): Sample[] {
    const labels = this.#labels
    const samples = new Map<string, Sample>()
    for (const [key, value] of this.map.getMany()) {
      const values = labelValues(labels, key)
      if (values === null) continue
      // Entries whose labels come out the same (a field left out, a rewrite) add up.
      const id = values.join('\u0000')
      const sample = samples.get(id)
      if (sample !== undefined) {
        sample.value += this.#value(value)
        continue
      }
      const set: Record<string, string> = {}
      for (let i = 0; i < labels.length; i++) set[labels[i]!.name] = values[i]!
      samples.set(id, { value: this.#value(value), labels: set })
    }
    return [...samples.values()]
  }
}

/**
 * A Prometheus counter over a BPF map: each key's fields are labels (named from the key struct's BTF;
 * decoders turn numbers into names), each value — or its `value` field, summed over CPUs — the count.
 * Read on every scrape, with batch lookups where the kernel has them.
 */
export class MapCounter extends MapValueMetric {
  readonly type = 'counter'

  constructor(options: CounterOptions) {
    super(options, 'MapCounter')
  }
}

/** A Prometheus gauge over a BPF map, read like MapCounter: for values that go down as well as up. */
export class MapGauge extends MapValueMetric {
  readonly type = 'gauge'

  constructor(options: CounterOptions) {
    super(options, 'MapGauge')
  }
}
