// bpfkit/metrics: Prometheus metrics (prom-client collectors) over BPF maps.

export { MapCounter, MapGauge, type CounterOptions } from './counter'
export { MapHistogram, type HistogramOptions } from './histogram'
export { MapMetric, type MapMetricOptions, type Sample } from './map-metric'
export { makeBuckets, type BucketType, type BucketSettings, type Buckets } from './buckets'
export { MetricOptionError, type LabelOption, type DecoderSpecOption } from './options'
export {
  registerDecoder,
  decoderNames,
  makeDecoder,
  cgroup,
  errno,
  ifname,
  inet,
  ksym,
  majorminor,
  regexp,
  staticTable,
  string,
  syscall,
  uid,
  type DecoderSpec,
  type LabelDecoder,
  type DecoderFactory,
} from './decoders'
