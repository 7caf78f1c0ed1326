// Histogram buckets: the upper bound (`le`) of each slot, for the exp2, exp2zero, linear and fixed types.

import { unreadable } from '../errors'
import { MetricOptionError } from './options'

export type BucketType = 'exp2' | 'exp2zero' | 'linear' | 'fixed'

export interface BucketSettings {
  bucketType: BucketType
  bucketMin?: number
  bucketMax?: number
  bucketKeys?: readonly number[]
  bucketMultiplier?: number
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

export function makeBuckets(given: BucketSettings): Buckets {
  if (given === null || typeof given !== 'object') throw new MetricOptionError([], 'makeBuckets takes a settings object')
  let settings: BucketSettings
  try {
    settings = { ...given }
  } catch (error) {
    // A revoked proxy, a getter that throws.
    throw new MetricOptionError([], `makeBuckets' settings ${unreadable(error)}`)
  }
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
      bounds: keys.map((k) => k * multiplier),
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
  const bounds = Array.from({ length: max - min + 1 }, (_, i) => bound(type, min + i) * multiplier)
  return {
    bounds,
    index: (slot) => (slot < min ? 0 : slot > max ? bounds.length : slot - min),
  }
}
