// bpfkit/metrics: prom-client collectors over real maps filled from user space, bucket types, label
// decoders, and the errors wrong options get.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { BpfMap, BpfObject } from 'bpfkit'
import {
  MapCounter, MapGauge, MapHistogram, MetricOptionError, makeBuckets, makeDecoder, registerDecoder,
  cgroup, errno, ifname, inet, ksym, majorminor, regexp, staticTable, string, syscall, uid,
} from 'bpfkit/metrics'
import { fixture } from './helpers'

let obj: BpfObject

/** The samples of a registry, sorted (hash maps have no order), without HELP/TYPE lines. */
async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#')).sort()
}

function optionError(make: () => unknown): MetricOptionError {
  try {
    make()
  } catch (error) {
    expect(error).toBeInstanceOf(MetricOptionError)
    return error as MetricOptionError
  }
  throw new Error('expected a MetricOptionError')
}

beforeAll(async () => {
  obj = BpfObject.open(fixture('metrics.bpf.o'))
  await obj.load()
  const flow = (addr: number, port: number, cpu: number, comm: string, dir: number) => ({ src: { addr, port }, cpu, proto: 6, comm, dir })
  obj.map('flows').setMany([
    [flow(0x0100007f, 80, 0, 'nginx', 1), { packets: 10, bytes: 1000 }],
    [flow(0x0100007f, 80, 1, 'nginx', 1), { packets: 5, bytes: 500 }],
    [flow(0x0200000a, 443, 0, 'node', 2), { packets: 7, bytes: 700 }],
  ])
  obj.map('per_cpu').set(3, 4) // 4 on every CPU
  // op 1: one at slot 0, two at slot 3, one past bucketMax (slot 9), and the sum (slot 10) = 100.
  obj.map('latency').setMany([[{ op: 1, slot: 0 }, 1], [{ op: 1, slot: 3 }, 2], [{ op: 1, slot: 9 }, 1], [{ op: 1, slot: 10 }, 100]])
  obj.map('by_cpu').set(0, { slots: [0, 1, 0, 2, 0, 0, 0, 0], total: 12 })
})

afterAll(() => obj?.close())

describe('MapCounter and MapGauge', () => {
  it('label every key field by its BTF name (nested members by path, anonymous ones on the parent) and count the value field', async () => {
    const registry = new Registry()
    new MapCounter({ name: 'packets_total', help: 'Packets', map: obj.map('flows'), value: 'packets', registers: [registry],
      labels: { 'src.addr': { name: 'addr', decoders: ['inet'] }, proto: false } })
    expect(await samples(registry)).toEqual([
      'packets_total{addr="10.0.0.2",src_port="443",cpu="0",comm="node",dir="EGRESS"} 7',
      'packets_total{addr="127.0.0.1",src_port="80",cpu="0",comm="nginx",dir="INGRESS"} 10',
      'packets_total{addr="127.0.0.1",src_port="80",cpu="1",comm="nginx",dir="INGRESS"} 5',
    ])
  })

  it('add up entries whose labels come out the same, and filter with regexp', async () => {
    const registry = new Registry()
    new MapGauge({ name: 'bytes', help: 'Bytes', map: obj.map('flows'), value: 'bytes', registers: [registry],
      labels: { 'src.addr': false, 'src.port': false, cpu: false, proto: false, dir: false, comm: { decoders: [{ name: 'regexp', match: '^ng' }] } } })
    expect(await samples(registry)).toEqual(['bytes{comm="nginx"} 1500'])
    expect((await registry.getMetricsAsJSON())[0]).toMatchObject({ type: 'gauge', name: 'bytes' })
  })

  it('sum per-CPU values, and name a scalar key', async () => {
    const registry = new Registry()
    new MapCounter({ name: 'per_cpu_total', help: 'h', map: obj.map('per_cpu'), labels: { key: 'cpu' }, registers: [registry] })
    expect(await samples(registry)).toEqual([`per_cpu_total{cpu="3"} ${4 * os.cpus().length}`])
    const error = optionError(() => new MapCounter({ name: 'x_total', map: obj.map('per_cpu'), registers: [registry] }))
    expect(error.message).toMatch(/labels: the key of 'per_cpu' is a __u32, not a struct: name its label, e.g. labels: \{ key: 'cpu' \}/)
  })

  it('read the map at every scrape, register on the default registry unless told, and unregister', async () => {
    const { register } = await import('prom-client')
    const counter = new MapCounter({ name: 'bpfkit_test_per_cpu_total', help: 'h', map: obj.map('per_cpu'), labels: { key: 'cpu' } })
    expect(await register.getSingleMetricAsString('bpfkit_test_per_cpu_total')).toContain(`{cpu="3"} ${4 * os.cpus().length}`)
    obj.map('per_cpu').set(3, 5)
    expect(await register.getSingleMetricAsString('bpfkit_test_per_cpu_total')).toContain(`{cpu="3"} ${5 * os.cpus().length}`)
    obj.map('per_cpu').set(3, 4)
    counter.unregister()
    expect(register.getSingleMetric('bpfkit_test_per_cpu_total')).toBeUndefined()
  })

  it('refuse wrong options, naming the option and what is there', () => {
    const map = obj.map('flows')
    expect(optionError(() => new MapCounter({ name: 'x', map, value: 'nope' })).message)
      .toBe("value: struct counts has no field 'nope' (numbers: packets, bytes)")
    expect(optionError(() => new MapCounter({ name: 'x', map })).message)
      .toBe("value: the value of 'flows' is a struct counts: name the field that holds numbers with value: (packets, bytes)")
    expect(optionError(() => new MapCounter({ name: 'x', map, value: 'bytes', labels: { prot: false } })).message)
      .toBe("labels.prot: struct flow_key has no field 'prot' (fields: src.addr, src.port, cpu, proto, comm, dir)")
    expect(optionError(() => new MapCounter({ name: 'x', map, value: 'bytes', labels: { comm: { decoders: ['nope'] } } })).message)
      .toMatch(/^labels\.comm\.decoders\[0\]: unknown decoder 'nope' \(known: string, errno, syscall, inet, ifname, cgroup, ksym, uid, majorminor, static, regexp/)
    expect(optionError(() => new MapCounter({ name: 'bad name', map, value: 'bytes' })).path).toEqual(['name'])
    expect(optionError(() => new MapCounter({ name: 'x', map, value: 'bytes', colour: 1 } as never)).message).toMatch(/^unknown field 'colour' \(fields: name, help, labels, value, map, registers\)/)
    expect(optionError(() => new MapCounter({ name: 'x', map: obj.map('ring') })).message).toBe("map: map 'ring' is a ringbuf map: metrics read hash and array maps")
    expect(optionError(() => new MapCounter(null as never)).message).toBe('MapCounter takes an options object')
    // Options that throw when read (a revoked proxy, a getter) are refused like any wrong ones.
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    const getter = Object.defineProperty({ name: 'x', map }, 'value', { enumerable: true, get: () => { throw new Error('no value') } })
    for (const Metric of [MapCounter, MapGauge, MapHistogram]) {
      expect(optionError(() => new Metric(proxy as never)).message).toContain("options could not be read: Cannot perform 'IsArray'")
      expect(optionError(() => new Metric(getter as never)).message).toContain('options could not be read: no value')
    }
    expect(optionError(() => makeBuckets(proxy as never)).code).toBe('EINVAL')
    for (const make of [() => makeDecoder(proxy as never), () => regexp(proxy as never), () => staticTable(proxy as never), () => staticTable({ table: proxy })]) {
      expect(() => make()).toThrow(expect.objectContaining({ code: 'EINVAL' }))
    }
    // What is not a BpfMap, however it looks like one.
    for (const fake of [proxy, new Proxy(map, {}), Object.create(BpfMap.prototype)]) {
      expect(optionError(() => new MapCounter({ name: 'x', map: fake, value: 'bytes' })).message).toBe('map: map must be a BpfMap (obj.map(name) or BpfMap.openPinned)')
    }
    // Registries: each checked, and one that refuses leaves the metric on none.
    for (const registers of [[42], [{}], [null], [proxy]]) {
      expect(optionError(() => new MapCounter({ name: 'x', map, value: 'bytes', registers: registers as never })).path[0]).toBe('registers')
    }
    const [free, taken] = [new Registry(), new Registry()]
    const first = new MapCounter({ name: 'dup_total', map, value: 'bytes', registers: [taken] })
    const dup = optionError(() => new MapCounter({ name: 'dup_total', map, value: 'bytes', registers: [free, taken] }))
    expect(dup.message).toBe("name: a metric named 'dup_total' is registered already")
    expect(free.getSingleMetric('dup_total')).toBeUndefined()
    const second = new MapCounter({ name: 'dup_total', map, value: 'bytes', registers: [free] })
    first.unregister()
    second.unregister()
    // A decoder's settings are checked: a misspelt one, settings for one that takes none, a name that is not a string.
    expect(() => regexp({ match: '^s', replce: 'S' })).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining("unknown option 'replce'") }))
    expect(() => makeDecoder({ name: 'errno', bogus: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL', message: 'decoder: the errno decoder takes no settings, got \'bogus\'' }))
    expect(() => makeDecoder({ name: Symbol('s') } as never)).toThrow(expect.objectContaining({ code: 'EINVAL', message: "decoder: a decoder's name is a string, got Symbol(s)" }))
  })
})

describe('MapHistogram', () => {
  it('makes cumulative le buckets from a slot key field, with the overflow in +Inf and the sum slot as _sum', async () => {
    const registry = new Registry()
    new MapHistogram({ name: 'latency', unit: 'seconds', help: 'h', map: obj.map('latency'), bucketType: 'exp2', bucketMax: 4,
      bucketMultiplier: 0.001, sum: { slot: 10 }, labels: { op: { decoders: [{ name: 'static', table: { 1: 'read' } }] } }, registers: [registry] })
    expect(await registry.metrics()).toBe([
      '# HELP latency_seconds h', '# TYPE latency_seconds histogram',
      'latency_seconds_bucket{op="read",le="0.001"} 1', 'latency_seconds_bucket{op="read",le="0.002"} 1',
      'latency_seconds_bucket{op="read",le="0.004"} 1', 'latency_seconds_bucket{op="read",le="0.008"} 3',
      'latency_seconds_bucket{op="read",le="0.016"} 3', 'latency_seconds_bucket{op="read",le="+Inf"} 4',
      'latency_seconds_sum{op="read"} 0.1', 'latency_seconds_count{op="read"} 4', '',
    ].join('\n'))
  })

  it('reads slots from an array value, with the sum in a value field; no _sum without one', async () => {
    const registry = new Registry()
    new MapHistogram({ name: 'by_cpu', help: 'h', map: obj.map('by_cpu'), value: 'slots', bucketType: 'linear', bucketMin: 1,
      sum: { field: 'total' }, labels: { key: 'cpu' }, registers: [registry] })
    const lines = await samples(registry)
    expect(lines.filter((l) => l.includes('cpu="0"'))).toEqual([
      'by_cpu_bucket{cpu="0",le="+Inf"} 3', 'by_cpu_bucket{cpu="0",le="1"} 1', 'by_cpu_bucket{cpu="0",le="2"} 1',
      'by_cpu_bucket{cpu="0",le="3"} 3', 'by_cpu_bucket{cpu="0",le="4"} 3', 'by_cpu_bucket{cpu="0",le="5"} 3',
      'by_cpu_bucket{cpu="0",le="6"} 3', 'by_cpu_bucket{cpu="0",le="7"} 3', 'by_cpu_count{cpu="0"} 3', 'by_cpu_sum{cpu="0"} 12',
    ])
    const plain = new Registry()
    new MapHistogram({ name: 'plain', help: 'h', map: obj.map('latency'), bucketType: 'fixed', bucketKeys: [0, 3], registers: [plain] })
    expect(await samples(plain)).toEqual([
      'plain_bucket{op="1",le="+Inf"} 104', 'plain_bucket{op="1",le="0"} 1', 'plain_bucket{op="1",le="3"} 3', 'plain_count{op="1"} 104',
    ])
  })

  it('refuses wrong bucket settings', () => {
    const map = obj.map('latency')
    expect(optionError(() => new MapHistogram({ name: 'h', map, bucketType: 'exp2' })).message).toBe("bucketMax: bucketType 'exp2' needs bucketMax: the last slot")
    expect(optionError(() => new MapHistogram({ name: 'h', map, bucketType: 'exp3' as never, bucketMax: 3 })).message)
      .toBe('bucketType: Invalid option: expected one of "exp2"|"exp2zero"|"linear"|"fixed"')
    expect(optionError(() => new MapHistogram({ name: 'h', map, bucketType: 'fixed', bucketKeys: [3, 1] })).message).toBe('bucketKeys[1]: bucketKeys must be ascending')
    expect(optionError(() => new MapHistogram({ name: 'h', map, bucketType: 'linear', bucketMin: 5, bucketMax: 2 })).message).toBe('bucketMax: bucketMax (2) is below bucketMin (5)')
    expect(optionError(() => new MapHistogram({ name: 'h', map, bucketType: 'exp2', bucketMax: 3, slot: 'sloth' })).message)
      .toBe("slot: struct latency_key has no integer field 'sloth' (integer fields: op, slot)")
    expect(optionError(() => new MapHistogram({ name: 'h', map, bucketType: 'exp2', bucketMax: 3, labels: { slot: 'x' } })).message)
      .toBe("labels.slot: 'slot' is the histogram's slot, not a label")
  })
})

describe('buckets', () => {
  it('give each type its bounds and place slots', () => {
    expect(makeBuckets({ bucketType: 'exp2', bucketMin: 2, bucketMax: 4 }).bounds).toEqual([4, 8, 16])
    expect(makeBuckets({ bucketType: 'exp2zero', bucketMax: 3 }).bounds).toEqual([0, 1, 2, 4])
    expect(makeBuckets({ bucketType: 'linear', bucketMax: 3, bucketMultiplier: 10 }).bounds).toEqual([0, 10, 20, 30])
    const fixed = makeBuckets({ bucketType: 'fixed', bucketKeys: [10, 100, 1000] })
    expect([5, 10, 11, 1000, 1001].map((s) => fixed.index(s))).toEqual([0, 0, 1, 2, 3])
    const exp2 = makeBuckets({ bucketType: 'exp2', bucketMin: 2, bucketMax: 4 })
    expect([0, 2, 4, 5].map((s) => exp2.index(s))).toEqual([0, 0, 2, 3])
  })

  it('refuse settings a histogram would refuse, and bounds a double cannot hold', () => {
    const wrong = (settings: unknown): MetricOptionError => optionError(() => makeBuckets(settings as never))
    expect(wrong({ bucketType: 'bogus', bucketMax: 3 }).path).toEqual(['bucketType'])
    for (const bucketMax of [Number.NaN, 2 ** 32, Symbol('max'), -1]) expect(wrong({ bucketType: 'linear', bucketMax }).path).toEqual(['bucketMax'])
    expect(wrong({ bucketType: 'fixed', bucketKeys: 5 }).path).toEqual(['bucketKeys'])
    expect(wrong({ bucketType: 'fixed', bucketKeys: [Symbol('a'), Symbol('b')] }).path).toEqual(['bucketKeys', 0])
    expect(wrong({ bucketType: 'exp2', bucketMax: 1024 }).message).toBe('bucketMax: bucket 1024\'s bound is Infinity after 8.98846567431158e+307: the bounds must be finite and ascending')
    expect(wrong({ bucketType: 'linear', bucketMax: 3, bucketMultiplier: 1e308 }).path).toEqual(['bucketMultiplier'])
    expect(makeBuckets({ bucketType: 'exp2', bucketMax: 1023 }).bounds.at(-1)).toBe(2 ** 1023)
  })
})

describe('label decoders', () => {
  it('turn numbers into names', () => {
    expect(errno()(-2)).toBe('ENOENT')
    expect(errno()(0)).toBe('0')
    expect(syscall()(59)).toBe('execve')
    expect(syscall()(9999)).toBe('9999')
    expect(string()(Uint8Array.from([104, 105, 0, 120]))).toBe('hi')
    expect(staticTable({ table: { 1: 'one' }, default: 'other' })(2)).toBe('other')
    expect(regexp({ match: '^kworker/.*', replace: 'kworker' })('kworker/0:1')).toBe('kworker')
    expect(regexp({ match: '^kworker' })('bash')).toBeNull()
    expect(() => regexp({ match: '(' })).toThrow(/regexp: match: Invalid regular expression/)
  })

  it('format IPv4 and IPv6 addresses', () => {
    expect(inet()(0x0100007f)).toBe('127.0.0.1')
    expect(inet()(Uint8Array.from([10, 0, 0, 1]))).toBe('10.0.0.1')
    const v6 = new Uint8Array(16)
    v6.set([0x20, 0x01, 0x0d, 0xb8], 0)
    v6[15] = 1
    expect(inet()(v6)).toBe('2001:db8::1')
    expect(inet()(new Uint8Array(16).fill(0, 0, 10).fill(0xff, 10, 12).fill(7, 12))).toBe('::ffff:7.7.7.7')
    expect(inet()(new Uint32Array([0, 0, 0, 0x01000000]))).toBe('::1')
  })

  it('look up interfaces, users, block devices, cgroups and kernel symbols on this machine', () => {
    expect(ifname()(1)).toBe('lo')
    expect(uid()(0)).toBe('root')
    const [major, minor] = fs.readFileSync('/sys/class/block/loop0/dev', 'utf8').trim().split(':').map(Number)
    expect(majorminor()(major! * 2 ** 20 + minor!)).toBe('loop0')
    const own = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('::')[1]!
    const mount = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').find((l) => l.split(' ')[2] === 'cgroup2')!.split(' ')[1]!
    expect(cgroup()(fs.statSync(`${mount}${own === '/' ? '' : own}`, { bigint: true }).ino)).toBe(own)
    const line = fs.readFileSync('/proc/kallsyms', 'utf8').split('\n').find((l) => / [tT] do_sys_openat2$/.test(l))!
    expect(ksym()(BigInt(`0x${line.split(' ')[0]}`) + 4n)).toBe('do_sys_openat2')
  })

  it('can be added by name', async () => {
    registerDecoder('shout', () => (value) => String(value).toUpperCase())
    expect(makeDecoder({ name: 'shout' })('nginx')).toBe('NGINX')
    const registry = new Registry()
    new MapCounter({ name: 'shouted_total', help: 'h', map: obj.map('flows'), value: 'packets', registers: [registry],
      labels: { 'src.addr': false, 'src.port': false, cpu: false, proto: false, dir: false, comm: { decoders: ['shout'] } } })
    expect(await samples(registry)).toEqual(['shouted_total{comm="NGINX"} 15', 'shouted_total{comm="NODE"} 7'])
  })
})

describe('the exposition', () => {
  it('passes promtool check metrics', async () => {
    const registry = new Registry()
    new MapCounter({ name: 'packets_total', help: 'Packets', map: obj.map('flows'), value: 'packets', registers: [registry] })
    new MapHistogram({ name: 'latency', unit: 'seconds', help: 'Latency', map: obj.map('latency'), bucketType: 'exp2', bucketMax: 4, bucketMultiplier: 0.001, sum: { slot: 10 }, registers: [registry] })
    const text = await registry.metrics()
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('')
  })
})
