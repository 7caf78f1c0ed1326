// The options of map metrics, as schemas: checked the same way whether they come from code or from a
// `bpfkit serve` config.

import { z } from 'zod'
import { BpfError, unreadable } from '../errors'
import type { LabelDecoder } from './decoders'

/** An object schema that refuses unknown fields, naming the ones it has. */
export function strict<T extends z.ZodRawShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  const known = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) => issue.code === 'unrecognized_keys'
      ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} (fields: ${known})`
      : undefined,
  })
}

export const decoderSpec = z.union([
  z.string(),
  z.looseObject({ name: z.string() }),
  z.custom<LabelDecoder>((value) => typeof value === 'function'),
], { error: "a decoder is a name ('errno'), { name, ...settings } or a function" })

/** How one key field becomes a label: left out (`false`), renamed (a string), or `{ name?, decoders? }`. */
export const labelOption = z.union([
  z.literal(false),
  z.string(),
  strict({ name: z.string().optional(), decoders: z.array(decoderSpec).optional() }),
], { error: 'a label is false (left out), its name, or { name?, decoders? }' })

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const common = {
  /** The metric's name (`syscalls_total`; a histogram's `unit` is appended when it does not end with it). */
  name: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a metric name has letters, digits, _ and : only'),
  help: z.string().optional(),
  /** Key fields by dotted path (`disk.dev`; a scalar key is `key`): how each becomes a label. */
  labels: z.record(z.string(), labelOption).optional(),
  /** The field of a struct value that holds the count (default: the value itself, when it is an integer). */
  value: z.string().optional(),
}

/** Counters and gauges: each entry of the map, its key as labels, its value (summed over CPUs) as the number. */
export const counterShape = common

export const bucketTypes = ['exp2', 'exp2zero', 'linear', 'fixed'] as const

/** Histograms: a map of slots (a key field, or an array value) made into cumulative `le` buckets. */
export const histogramShape = {
  ...common,
  /** exp2: slot k has le = 2^k; exp2zero: slot 0 has le = 0, slot k le = 2^(k-1); linear: le = k; fixed: le = the slot's own value. */
  bucketType: z.enum(bucketTypes),
  /** The first and last slot (exp2, exp2zero, linear); slots past bucketMax count in +Inf only. */
  bucketMin: z.number().int().min(0).optional(),
  bucketMax: z.number().int().min(0).max(1024).optional(),
  /** fixed: the slot values that are buckets, ascending. */
  bucketKeys: z.array(z.number()).min(1).optional(),
  /** Multiplies every bound and the sum, e.g. 1e-6 for microsecond slots of a `_seconds` histogram. */
  bucketMultiplier: z.number().positive().optional(),
  /** The unit after multiplying (`seconds`, `bytes`): the metric name ends with `_<unit>`. */
  unit: z.string().regex(labelName, 'a unit is a word such as seconds or bytes').optional(),
  /** The key field that holds the slot (default: `slot` or `bucket`, or the scalar key); none when the value is an array of slots. */
  slot: z.string().optional(),
  /** Where the program keeps the sum of what it counted: a slot number, or a field of a struct value. */
  sum: z.union([strict({ slot: z.number().int().min(0) }), strict({ field: z.string() })],
    { error: 'sum is { slot: N } or { field: name }' }).optional(),
}

export type DecoderSpecOption = z.infer<typeof decoderSpec>
export type LabelOption = z.infer<typeof labelOption>
export type CounterSettings = z.infer<z.ZodObject<typeof counterShape>>
export type HistogramSettings = z.infer<z.ZodObject<typeof histogramShape>>

/** A wrong option of a map metric: `path` says which (`['labels', 'comm', 'decoders', 0]`). */
export class MetricOptionError extends BpfError {
  constructor(readonly path: readonly (string | number)[], readonly reason: string) {
    super(`${path.length > 0 ? `${formatPath(path)}: ` : ''}${reason}`, { code: 'EINVAL', op: 'metrics' })
  }
}

/** `['labels', 'comm', 'decoders', 0]` → `labels.comm.decoders[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('')
}

/**
 * The problem to report of a failed parse: an unknown field before anything else (a misspelt field
 * explains the missing one), with "is required" for a missing field.
 */
export function firstIssue(error: z.ZodError): { path: (string | number)[]; message: string } {
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
  if (issue.code === 'unrecognized_keys') return { path: [...path, issue.keys[0]!], message: issue.message }
  const missing = issue.code === 'invalid_type' && issue.message.endsWith('received undefined')
  return { path, message: missing ? 'is required' : issue.message }
}

/** Checks options against a schema: the parsed options, or a MetricOptionError for the first problem. */
export function parseOptions<T>(schema: z.ZodType<T>, options: unknown, what: string): T {
  if (options === null || typeof options !== 'object') throw new MetricOptionError([], `${what} takes an options object`)
  let result: ReturnType<typeof schema.safeParse>
  try {
    result = schema.safeParse(options)
  } catch (error) {
    // A revoked proxy, a getter that throws.
    throw new MetricOptionError([], `${what}'s options ${unreadable(error)}`)
  }
  if (result.success) return result.data
  const issue = firstIssue(result.error)
  throw new MetricOptionError(issue.message.startsWith('unknown field') ? issue.path.slice(0, -1) : issue.path, issue.message)
}
