// The bpfkit side of the ring buffer benchmark: drain, live and soak consumers, each printing one JSON line.
// index.ts runs it pinned to CPU 0, as it runs baseline.c:
//   consumer.ts drain SHAPE MODE EVENTS ROUNDS        (SHAPE: 32 | 256 | exec | mixed; MODE: see DRAINS)
//   consumer.ts live SECONDS BURST GENERATOR [WAKEUP_BYTES LATENCY_MS]
//   consumer.ts soak SECONDS WARMUP_SECONDS BURST GENERATOR WAKEUP_BYTES LATENCY_MS
import { spawn } from 'node:child_process'
import * as path from 'node:path'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { BpfObject, type EventBatch, type RingBuffer, type WakeupPolicy } from 'bpfkit'

const object = path.join(__dirname, 'ringbuf.bpf.o')

/** struct settings of ringbuf.bpf.c. */
interface Settings {
  fill_events: number
  fill_ring: number
  tgid: number
  burst: number
}

/** The event shapes of ringbuf.bpf.c: their ring, the filler's number for them, and the field each consumer sums. */
export const SHAPES = {
  '32': { ring: 'rb32', fill: 0, field: 'seq', wide: true },
  '256': { ring: 'rb256', fill: 1, field: 'seq', wide: true },
  exec: { ring: 'rbexec', fill: 2, field: 'pid', wide: false },
  mixed: { ring: 'rbmixed', fill: 3, field: 'seq', wide: true },
} as const
export type Shape = keyof typeof SHAPES

/** What one drain of N events measured: how long it took and the sum of the summed field (as a check). */
interface Drained {
  seconds: number
  sum: number
}

/** What a drain run measured per round, and the garbage collections during the timed drains. */
export interface DrainResult {
  rates: number[]
  /** Events per second of the process's CPU time (what other processes on the CPU do not disturb). */
  cpuRates: number[]
  /** Garbage collections (all kinds) during the timed rounds, per million events. */
  gcPerMillion: number
  /** JS heap in use after the last round minus before the first timed one. */
  heapGrowth: number
}

/**
 * The fast path's per-batch work: the sum of every record's field (a u64 read as two u32 halves, exact
 * below 2^53, or a u32), through a DataView made only when the batch buffer changes (it is reused from
 * drain to drain). One loop per field width, the read written out as a user's fast path would have it.
 */
function batchSummer(wide = true): (batch: EventBatch<unknown>) => number {
  let bytes: Uint8Array | undefined
  let view: DataView = new DataView(new ArrayBuffer(0))
  return (batch) => {
    if (batch.bytes !== bytes) {
      bytes = batch.bytes
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    }
    const v = view
    const offsets = batch.offsets
    const n = batch.count
    let sum = 0
    if (wide) {
      for (let i = 0; i < n; i++) {
        const o = offsets[i] as number
        sum += v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000
      }
    } else {
      for (let i = 0; i < n; i++) sum += v.getUint32(offsets[i] as number, true)
    }
    return sum
  }
}

/**
 * The sum of decoded fields, as C sums them: a bigint field (the default for u64) into a u64, which
 * JS does without allocating through a BigUint64Array (Number(x) on each would cost more than the
 * decode), a number (u32, or u64 with int64: 'number') into a double. Exact below 2^53.
 */
class Sum {
  readonly #u64 = new BigUint64Array(1)
  readonly #f64 = new Float64Array(1)

  add(x: unknown): void {
    if (typeof x === 'bigint') this.#u64[0] += x
    else this.#f64[0] += x as number
  }

  get value(): number {
    return Number(this.#u64[0]) + (this.#f64[0] as number)
  }
}

type Reader = RingBuffer<Record<string, unknown>>
type Event = Record<string, unknown>

/** The summed field of a decoded event or view, read by name as a user's code would (e.seq, e.pid). */
const FIELDS: Record<string, (event: Event) => unknown> = { seq: (e) => e.seq, pid: (e) => e.pid }

/**
 * The ways to read a drain, by name. Each resolves once `events` events were read, with their field sum
 * (kept in a typed array, a Sum: a number stored into a closure variable would be boxed on every write):
 * - batch: a DataView over each batch's bytes, one field read per record (the fastest path);
 * - data: 'data' events, each decoded into an object by its BTF type (`data-number`: with int64: 'number');
 * - view: batch.at(i), a reused view whose getters read the batch bytes (`view-number`: int64: 'number');
 * - iterator: for await over the reader; stream: for await over reader.stream().
 */
const DRAINS: Record<string, (rb: Reader, events: number, field: (event: Event) => unknown, wide: boolean, numbers: boolean) =>
  Promise<Drained>> = {
  batch: (rb, events, _field, wide) => new Promise((resolve) => {
    let count = 0
    const sum = new Float64Array(1)
    const summer = batchSummer(wide)
    const start = performance.now()
    const onBatch = (batch: EventBatch<unknown>): void => {
      sum[0] += summer(batch)
      count += batch.count
      if (count >= events) {
        const seconds = (performance.now() - start) / 1e3
        rb.off('batch', onBatch)
        resolve({ seconds, sum: sum[0] as number })
      }
    }
    rb.on('batch', onBatch)
  }),
  data: (rb, events, field, _wide, numbers) => new Promise((resolve, reject) => {
    let count = 0
    const sum = new Sum()
    const start = performance.now()
    const onData = (event: Event): void => {
      if (count === 0 && numbers && typeof field(event) !== 'number') {
        rb.off('data', onData)
        reject(new Error("this bpfkit has no int64: 'number'"))
        return
      }
      sum.add(field(event))
      if (++count === events) {
        const seconds = (performance.now() - start) / 1e3
        rb.off('data', onData)
        resolve({ seconds, sum: sum.value })
      }
    }
    rb.on('data', onData)
  }),
  view: (rb, events, field, _wide, numbers) => new Promise((resolve, reject) => {
    let count = 0
    const sum = new Sum()
    const start = performance.now()
    const onBatch = (batch: EventBatch<Event>): void => {
      const n = batch.count
      if (count === 0 && (typeof batch.at !== 'function' || (numbers && typeof field(batch.at(0)) !== 'number'))) {
        rb.off('batch', onBatch)
        reject(new Error(typeof batch.at !== 'function' ? 'this bpfkit has no batch.at(i)' : "this bpfkit has no int64: 'number'"))
        return
      }
      for (let i = 0; i < n; i++) sum.add(field(batch.at(i)))
      count += n
      if (count >= events) {
        const seconds = (performance.now() - start) / 1e3
        rb.off('batch', onBatch)
        resolve({ seconds, sum: sum.value })
      }
    }
    rb.on('batch', onBatch)
  }),
  iterator: async (rb, events, field) => {
    const iterator = rb[Symbol.asyncIterator]()
    const sum = new Sum()
    const start = performance.now()
    for (let count = 0; count < events; count++) sum.add(field((await iterator.next()).value as Event))
    return { seconds: (performance.now() - start) / 1e3, sum: sum.value }
  },
  stream: async (rb, events, field) => {
    const stream = streams.get(rb) ?? streams.set(rb, rb.stream()).get(rb)!
    const iterator = stream[Symbol.asyncIterator]()
    const sum = new Sum()
    const start = performance.now()
    for (let count = 0; count < events; count++) sum.add(field((await iterator.next()).value as Event))
    return { seconds: (performance.now() - start) / 1e3, sum: sum.value }
  },
}
const streams = new Map<Reader, ReturnType<Reader['stream']>>()

/** Pre-fills the ring with `events` events per round (reader created, not reading), then times reading them all. */
async function drain(shape: string, mode: string, events: number, rounds: number): Promise<DrainResult> {
  if (!(shape in SHAPES)) fail(`no event shape ${shape}`)
  const numbers = mode.endsWith('-number')
  const read = DRAINS[numbers ? mode.slice(0, -'-number'.length) : mode] ?? fail(`no ${mode} path`)
  const { ring, fill: which, field, wide } = SHAPES[shape as Shape]
  const obj = BpfObject.open(object)
  await obj.load()
  obj.map<number, Settings>('settings').set(0, { fill_events: events, fill_ring: which, tgid: 0, burst: 0 })
  const rb = obj.ringBuffer(ring, numbers ? { int64: 'number' } : {}) as Reader
  const fill = obj.program('fill')
  const expected = (events * (events - 1)) / 2
  const rates: number[] = []
  const cpuRates: number[] = []
  // Collections are counted only inside the timed drains (the filler between them allocates too).
  const windows: Array<[number, number]> = []
  const starts: number[] = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) starts.push(entry.startTime)
  })
  let heapStart = 0
  // Round 0 warms up (JIT, the ring's consumer pages) and is not counted, as in baseline.c.
  for (let round = 0; round <= rounds; round++) {
    const { retval } = fill.testRun()
    if (retval !== events) fail(`the filler emitted ${retval} events, expected ${events}`)
    if (round === 1) {
      heapStart = process.memoryUsage().heapUsed
      observer.observe({ entryTypes: ['gc'] })
    }
    const cpu = process.cpuUsage()
    const from = performance.now()
    const { seconds, sum } = await read(rb, events, FIELDS[field] as (event: Event) => unknown, wide, numbers)
    const { user, system } = process.cpuUsage(cpu)
    windows.push([from, performance.now()])
    if (sum !== expected) fail(`the events' ${field} fields summed to ${sum}, expected ${expected}`)
    if (round > 0) {
      rates.push(events / seconds)
      cpuRates.push(events / ((user + system) / 1e6))
    }
  }
  const heapGrowth = process.memoryUsage().heapUsed - heapStart
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setImmediate(resolve))
  observer.disconnect()
  const collections = starts.filter((t) => windows.some(([from, to]) => t >= from && t <= to)).length
  obj.close()
  return { rates, cpuRates, gcPerMillion: (collections / (events * rounds)) * 1e6, heapGrowth }
}

function fail(what: string): never {
  throw new Error(`bpfkit consumer: ${what}`)
}

/** What a live run (or a soak) measured; `rate` is events consumed per second, from go to the last event. */
export interface LiveResult {
  events: number
  dropped: number
  produced: number
  seconds: number
  rate: number
  /** The consumer process's CPU time (all its threads) per second of the run: 1 is one core busy. */
  cpu: number
}

export interface SoakResult extends LiveResult {
  /** RSS in bytes once warmed up, at the end, and the largest sample (one a second) in between. */
  rssStart: number
  rssEnd: number
  rssMax: number
  heapStart: number
  heapEnd: number
}

/** Starts `GENERATOR generate SECONDS 1` (it pins itself to CPU 1 and waits for a byte on stdin). */
function startGenerator(generator: string, seconds: number): { pid: number; go(): void; result: Promise<{ calls: number }> } {
  const child = spawn(generator, ['generate', String(seconds), '1'], { stdio: ['pipe', 'pipe', 'inherit'] })
  if (child.pid === undefined) fail(`could not start ${generator}`)
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const result = new Promise<{ calls: number }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(output) as { calls: number }) : reject(new Error(`generator exited with ${code}`))))
  })
  return { pid: child.pid, go: () => child.stdin.end('g'), result }
}

/**
 * Consumes the generator's events for its whole run, through the batch path (`typed`: 'data' events),
 * with the kernel's wakeups or the threshold policy. `sample` runs once a second while the generator runs.
 */
async function consumeLive(seconds: number, burst: number, generator: string, wakeup: WakeupPolicy | undefined,
  typed: boolean, sample?: () => void): Promise<LiveResult> {
  const obj = BpfObject.open(object)
  await obj.load()
  const rb = obj.ringBuffer<Event>('rb32', wakeup === undefined ? {} : { wakeup })
  const link = obj.program('live').attach()
  const gen = startGenerator(generator, seconds)
  obj.map<number, Settings>('settings').set(0, { fill_events: 0, fill_ring: 0, tgid: gen.pid, burst })

  // The sums are the per-event work (one field read), as in baseline.c's callback.
  let sum = 0
  let typedSum = 0n
  let count = 0
  let last = 0
  let expected = Infinity
  let done: (() => void) | undefined
  if (typed) rb.on('data', (event: Event) => (typedSum += event.seq as bigint))
  const summer = batchSummer()
  // Counting and timing once per batch; 'batch' is emitted before the batch's 'data' events, and `done`
  // resolves a promise, so the caller resumes only after those too.
  rb.on('batch', (batch: EventBatch<Event>) => {
    if (!typed) sum += summer(batch)
    count += batch.count
    last = performance.now()
    if (count >= expected) done?.()
  })
  // The reader starts on a microtask after the listener is added: let it, then start the generator.
  await new Promise((resolve) => setImmediate(resolve))
  const timer = sample === undefined ? undefined : setInterval(sample, 1000)
  const start = performance.now()
  const cpu = process.cpuUsage()
  gen.go()
  const { calls } = await gen.result
  if (timer !== undefined) clearInterval(timer)
  sample?.()
  const dropped = rb.stats().dropped ?? fail('no drop count: the program does not use bpfkit.bpf.h')
  expected = calls * burst - dropped
  if (count < expected) await new Promise<void>((resolve) => (done = resolve))
  // The wait after the last event is spent blocked, as in baseline.c.
  const { user, system } = process.cpuUsage(cpu)
  if (count !== expected) fail(`consumed ${count} events, expected ${expected}`)
  link.close()
  obj.close()
  const elapsed = (last - start) / 1e3
  return { events: count, dropped, produced: calls * burst, seconds: elapsed, rate: count / elapsed, cpu: (user + system) / 1e6 / elapsed }
}

/** The typed consumer at full rate for `seconds` after `warmup` seconds, with RSS sampled once a second. */
async function soak(seconds: number, warmup: number, burst: number, generator: string, wakeup: WakeupPolicy): Promise<SoakResult> {
  const began = performance.now()
  let rssStart = 0
  let heapStart = 0
  let rssMax = 0
  let rssEnd = 0
  let heapEnd = 0
  const sample = (): void => {
    const { rss, heapUsed } = process.memoryUsage()
    if (performance.now() - began < warmup * 1e3) return
    if (rssStart === 0) {
      rssStart = rss
      heapStart = heapUsed
    }
    rssMax = Math.max(rssMax, rss)
    rssEnd = rss
    heapEnd = heapUsed
  }
  const live = await consumeLive(warmup + seconds, burst, generator, wakeup, true, sample)
  return { ...live, rssStart, rssEnd, rssMax, heapStart, heapEnd }
}

function wakeupOf(bytes: string | undefined, latencyMs: string | undefined): WakeupPolicy | undefined {
  return bytes === undefined ? undefined : { bytes: Number(bytes), maxLatencyMs: Number(latencyMs) }
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2)
  const n = (i: number): number => Number(args[i])
  let result: unknown
  if (command === 'drain' && args.length === 4) result = await drain(args[0] as string, args[1] as string, n(2), n(3))
  else if (command === 'live' && (args.length === 3 || args.length === 5)) {
    result = await consumeLive(n(0), n(1), args[2] as string, wakeupOf(args[3], args[4]), false)
  } else if (command === 'soak' && args.length === 6) {
    result = await soak(n(0), n(1), n(2), args[3] as string, wakeupOf(args[4], args[5]) as WakeupPolicy)
  } else fail(`usage: see the top of ${path.basename(__filename)}`)
  console.log(JSON.stringify(result))
}

// index.ts imports SHAPES from here: run only as a program.
if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  })
}
