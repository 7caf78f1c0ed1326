// Histogram buckets: the upper bound (`le`) of each slot, for the exp2, exp2zero, linear and fixed types.

import { z } from 'zod'
import { MetricOptionError, histogramShape, parseOptions } from './options'

export type BucketType = 'exp2' | 'exp2zero' | 'linear' | 'fixed'

export interface BucketSettings {
  bucketType: BucketType
  bucketMin?: number | undefined
  bucketMax?: number | undefined
  bucketKeys?: readonly number[] | undefined
  bucketMultiplier?: number | undefined
}

/** The buckets of a histogram: their bounds, ascending, and which bucket counts each slot. */
export interface Buckets {
  /** `le` of each bucket (the +Inf bucket is not among them). */
  readonly bounds: readonly number[]
  /** The bucket a slot counts in: its own, the first for slots below bucketMin, bounds.length (+Inf only) past the last. */
  index(slot: number): number
}

/** The raw upper bound of slot `k` (before the multiplier). */
function bound(type: Exclude<BucketType, 'fixed'>, k: number): number {
  if (type === 'exp2') return 2 ** k
  if (type === 'exp2zero') return k === 0 ? 0 : 2 ** (k - 1)
  return k
}

// The bucket settings, checked as a histogram's are (other settings are left out).
const { bucketType, bucketMin, bucketMax, bucketKeys, bucketMultiplier } = histogramShape
const schema = z.object({ bucketType, bucketMin, bucketMax, bucketKeys, bucketMultiplier })

/** The buckets that histogram settings describe; a setting that does not fit is a BpfError naming it. */
export function makeBuckets(given: BucketSettings): Buckets {
  const settings: BucketSettings = parseOptions(schema, given, 'makeBuckets')
  const multiplier = settings.bucketMultiplier ?? 1
  if (settings.bucketType === 'fixed') {
    const keys = settings.bucketKeys
    if (keys === undefined) throw new MetricOptionError(['bucketKeys'], "bucketType 'fixed' needs bucketKeys: the slot values that are buckets")
    if (settings.bucketMin !== undefined || settings.bucketMax !== undefined) {
      throw new MetricOptionError([settings.bucketMin !== undefined ? 'bucketMin' : 'bucketMax'], "bucketType 'fixed' takes bucketKeys, not bucketMin/bucketMax")
    }
    for (let i = 1; i < keys.length; i++) {
      if (!(keys[i]! > keys[i - 1]!)) throw new MetricOptionError(['bucketKeys', i], 'bucketKeys must be ascending')
    }
    return {
      bounds: checkBounds(keys.map((k) => k * multiplier), settings, 'bucketKeys'),
      index(slot) {
        let lo = 0
        let hi = keys.length
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (keys[mid]! >= slot) hi = mid
          else lo = mid + 1
        }
        return lo
      },
    }
  }
  if (settings.bucketKeys !== undefined) {
    throw new MetricOptionError(['bucketKeys'], `bucketKeys is for bucketType 'fixed'; '${settings.bucketType}' takes bucketMin and bucketMax`)
  }
  const min = settings.bucketMin ?? 0
  const max = settings.bucketMax
  if (max === undefined) throw new MetricOptionError(['bucketMax'], `bucketType '${settings.bucketType}' needs bucketMax: the last slot`)
  if (max < min) throw new MetricOptionError(['bucketMax'], `bucketMax (${max}) is below bucketMin (${min})`)
  const type = settings.bucketType
  const bounds = checkBounds(Array.from({ length: max - min + 1 }, (_, i) => bound(type, min + i) * multiplier), settings, 'bucketMax')
  return {
    bounds,
    index: (slot) => (slot < min ? 0 : slot > max ? bounds.length : slot - min),
  }
}

/** `bounds` when each is a finite number above the one before: a multiplier or a slot too large or small for a double is refused. */
function checkBounds(bounds: number[], settings: BucketSettings, range: 'bucketKeys' | 'bucketMax'): number[] {
  for (let i = 0; i < bounds.length; i++) {
    const ok = Number.isFinite(bounds[i]) && (i === 0 || bounds[i]! > bounds[i - 1]!)
    if (!ok) {
      const blame = settings.bucketMultiplier !== undefined ? 'bucketMultiplier' : range
      throw new MetricOptionError([blame], `bucket ${i}'s bound is ${bounds[i]}${i > 0 ? ` after ${bounds[i - 1]}` : ''}: the bounds must be finite and ascending`)
    }
  }
  return bounds
}
