// MapMetric: what counters, gauges and histograms over a BPF map share — a prom-client collector that
// reads the map on every scrape.

import { register as globalRegistry, type Registry } from 'prom-client'
import { z } from 'zod'
import { BpfMap } from '../map'
import { BpfError, isInstance } from '../errors'
import { leafFields, type Field } from './fields'
import { MetricOptionError } from './options'

/** Where a metric registers and which map it reads; the rest are the metric's settings. */
export interface MapMetricOptions {
  /** The map to read: typed by BTF (`__type(key, …)`, `__type(value, …)`), of a loaded object or a pin. */
  map: BpfMap
  /** The registries to register on (default: prom-client's default `register`). */
  registers?: Registry[] | undefined
}

/** One sample as prom-client's registry renders it. */
export interface Sample {
  value: number
  labels: Record<string, string>
  metricName?: string
}

// Map types whose entries are keys and values a scrape can read.
const READABLE = new Set(['hash', 'array', 'percpu_hash', 'percpu_array', 'lru_hash', 'lru_percpu_hash', 'lpm_trie'])

/**
 * The registries option: prom-client registries (by what they do, so that another copy of prom-client's
 * are accepted too).
 */
export const registersOption = z.array(z.custom<Registry>((r) => {
  try {
    return typeof r === 'object' && r !== null &&
      ['registerMetric', 'getSingleMetric', 'removeSingleMetric'].every((f) => typeof (r as Record<string, unknown>)[f] === 'function')
  } catch {
    return false // a revoked proxy
  }
}, { error: 'a registry is a prom-client Registry (new Registry(), or register)' })).optional()

export function checkMap(map: unknown): BpfMap {
  const wrong = (): MetricOptionError => new MetricOptionError(['map'], 'map must be a BpfMap (obj.map(name) or BpfMap.openPinned)')
  if (!isInstance(map, BpfMap)) throw wrong()
  let type: string
  try {
    type = map.type
  } catch (error) {
    // A closed map says so; a proxy of one, or an object made from BpfMap.prototype, is not one.
    if (error instanceof BpfError) throw new MetricOptionError(['map'], error.message)
    throw wrong()
  }
  if (!READABLE.has(type)) throw new MetricOptionError(['map'], `map '${map.name}' is a ${map.type} map: metrics read hash and array maps`)
  if (!map.isTyped) {
    throw new MetricOptionError(['map'], `map '${map.name}' has no BTF key and value types: declare them with __type(key, …) and __type(value, …) and compile with -g`)
  }
  return map
}

/**
 * The value fields a metric can count: the value itself when it is a number, or the field that
 * `path` names in a struct value (nested members by dotted path).
 */
export function valueField(map: BpfMap, path: string | undefined, accept: (field: Field) => boolean, what: string): Field {
  const btf = map.btf!
  const valueType = map.valueType!
  const fields = leafFields(btf, valueType.id, 'value')
  const wanted = fields.filter(accept)
  const typeName = btf.typeName(valueType.id)
  if (path === undefined) {
    const whole = fields.length === 1 && fields[0]!.path === 'value' && accept(fields[0]!) ? fields[0] : undefined
    if (whole !== undefined) return whole
    throw new MetricOptionError(['value'], `the value of '${map.name}' is a ${typeName}: name the field that holds ${what} with value: (${wanted.map((f) => f.path).join(', ') || 'it has none'})`)
  }
  const field = fields.find((f) => f.path === path)
  if (field === undefined || !accept(field)) {
    throw new MetricOptionError(['value'], `${typeName} has no ${field === undefined ? '' : `${what} `}field '${path}' (${what}: ${wanted.map((f) => f.path).join(', ') || 'none'})`)
  }
  return field
}

export const isNumber = (field: Field): boolean => field.kind === 'int' || field.kind === 'float' || field.kind === 'enum' || field.kind === 'bool'

/** A value field's number, summed over the CPUs of a per-CPU map. */
export function numberOf(map: BpfMap, field: Field): (value: unknown) => number {
  const get = field.get
  if (!map.perCpu) return (value) => Number(get(value))
  return (value) => {
    let sum = 0
    for (const perCpu of value as unknown[]) sum += Number(get(perCpu))
    return sum
  }
}

export abstract class MapMetric {
  /** prom-client's registry may rename counters for OpenMetrics, so this stays writable. */
  name: string
  readonly help: string
  abstract readonly type: 'counter' | 'gauge' | 'histogram'
  readonly aggregator = 'sum'
  readonly map: BpfMap
  readonly #registers: readonly Registry[]

  protected constructor(name: string, help: string | undefined, map: BpfMap, registers: readonly Registry[] | undefined) {
    this.name = name
    this.map = map
    this.help = help ?? `BPF map ${map.name}`
    this.#registers = registers ?? [globalRegistry]
  }

  /**
   * Called by subclasses once they are complete: from then on the registries scrape them. Where one
   * refuses (a metric of that name is there), the others let go of it too.
   */
  protected register(): void {
    const done: Registry[] = []
    try {
      for (const registry of this.#registers) {
        if (registry.getSingleMetric(this.name) !== undefined) {
          throw new MetricOptionError(['name'], `a metric named '${this.name}' is registered already`)
        }
        registry.registerMetric(this as never)
        done.push(registry)
      }
    } catch (error) {
      for (const registry of done) registry.removeSingleMetric(this.name)
      if (error instanceof BpfError) throw error
      throw new MetricOptionError(['registers'], `a registry refused the metric: ${(error as Error)?.message ?? String(error)}`)
    }
  }

  /** The samples of one scrape, read from the map now. */
  abstract collect(): Sample[]

  /** prom-client's collector interface: called by the registry on every scrape. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.collect() }
  }

  /** The kernel keeps the counts: prom-client's resetMetrics() has nothing to reset. */
  reset(): void {}

  /** Takes the metric off the registries it registered on. */
  unregister(): void {
    for (const registry of this.#registers) {
      if (registry.getSingleMetric(this.name) === (this as never)) registry.removeSingleMetric(this.name)
    }
  }
}
