// Ring buffer benchmark: bpfkit's event throughput against a C libbpf consumer measured in the same run.
//   npm run bench:ringbuf [-- --json] [-- --quick] [-- --soak SECONDS] [-- --rounds N] [-- --burst N]
//                         [-- --shapes 32,256,exec,mixed] [-- --no-live]                               (as root, 2+ CPUs)
// Every consumer (C or bpfkit) runs in its own process pinned to CPU 0; the live load generator runs on CPU 1.
import { execFileSync } from 'node:child_process'
import * as os from 'node:os'
import * as path from 'node:path'
import { SHAPES, type DrainResult, type LiveResult, type Shape, type SoakResult } from './consumer'
import { buildBaseline, median } from '../baseline'

const root = path.resolve(__dirname, '../..')
const object = path.join(__dirname, 'ringbuf.bpf.o')
const consumer = path.join(__dirname, 'consumer.ts')

/** The threshold policy of the live runs: the kernel wakes the consumer once 256 KiB wait; it drains every 10 ms anyway. */
const WAKEUP = { bytes: 256 * 1024, maxLatencyMs: 10 }

interface Config {
  json: boolean
  /** Events pre-filled per drain, by event shape (each fits its 64 MiB ring of ringbuf.bpf.c). */
  drainEvents: Record<Shape, number>
  drainRounds: number
  shapes: Shape[]
  live: boolean
  liveSeconds: number
  liveRounds: number
  /** Events the live program emits per getegid() call. */
  burst: number
  soakSeconds: number
  soakWarmup: number
}

function parseArgs(argv: string[]): Config {
  let json = false
  let quick = false
  let rounds: number | undefined
  let soak: number | undefined
  let burst = 16
  let shapes = Object.keys(SHAPES) as Shape[]
  let live = true
  const count = (flag: string, value: string | undefined, min: number): number => {
    if (!/^[0-9]+$/.test(value ?? '') || Number(value) < min) throw new Error(`${flag} needs an integer ≥ ${min}`)
    return Number(value)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') json = true
    else if (arg === '--quick') quick = true
    else if (arg === '--rounds') rounds = count(arg, argv[++i], 1)
    else if (arg === '--soak') soak = count(arg, argv[++i], 0)
    else if (arg === '--burst') burst = count(arg, argv[++i], 1)
    else if (arg === '--no-live') live = false
    else if (arg === '--shapes' && (argv[i + 1] ?? '').split(',').every((x) => x in SHAPES)) shapes = argv[++i]!.split(',') as Shape[]
    else {
      throw new Error('usage: npm run bench:ringbuf [-- --json] [-- --quick] [-- --soak SECONDS] [-- --rounds N] ' +
        `[-- --burst N] [-- --shapes 32,256,exec,mixed] [-- --no-live] (unknown argument ${arg})`)
    }
  }
  return {
    json,
    drainEvents: quick ? { '32': 200_000, '256': 50_000, exec: 50_000, mixed: 100_000 }
      : { '32': 1_000_000, '256': 200_000, exec: 200_000, mixed: 500_000 },
    shapes,
    live,
    drainRounds: rounds ?? (quick ? 3 : 7),
    liveSeconds: quick ? 1 : 5,
    liveRounds: rounds ?? (quick ? 1 : 3),
    burst,
    soakSeconds: soak ?? (quick ? 5 : 60),
    soakWarmup: quick ? 1 : 5,
  }
}

/** Runs a consumer on CPU 0 and parses the JSON line it prints. */
function onCpu0<T>(command: string, args: string[], stderr: 'inherit' | 'ignore' = 'inherit'): T {
  const output = execFileSync('taskset', ['-c', '0', command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', stderr] })
  return JSON.parse(output) as T
}

function bpfkit<T>(args: Array<string | number>, stderr: 'inherit' | 'ignore' = 'inherit'): T {
  return onCpu0<T>(process.execPath, ['--import', 'tsx', consumer, ...args.map(String)], stderr)
}

interface Row {
  label: string
  c: number
  /** undefined: this bpfkit has no such path. */
  bpfkit: number | undefined
  ratio: number | undefined
  /** Ratio to reach. */
  target: number | undefined
  /** Events per second to reach on this machine, besides the ratio. */
  minRate?: number
  /** Garbage collections per million events during the timed drains. */
  gcPerMillion?: number
  /** The ratio of events per CPU-second (drains only): what other processes on the machine disturb least. */
  cpuRatio?: number
  /** The path must not make garbage per event (no collection in a million events). */
  gcFree?: boolean
  met: boolean | undefined
}

function row(label: string, c: number, js: number | undefined, target?: number,
  extra: Pick<Row, 'minRate' | 'gcPerMillion' | 'gcFree' | 'cpuRatio'> = {}): Row {
  const ratio = js === undefined ? undefined : js / c
  const goals = target !== undefined || extra.minRate !== undefined || extra.gcFree === true
  const met = !goals ? undefined : ratio !== undefined && js !== undefined && (target === undefined || ratio >= target) &&
    (extra.minRate === undefined || js >= extra.minRate) && (extra.gcFree !== true || (extra.gcPerMillion ?? Infinity) < 1)
  return { label, c, bpfkit: js, ratio, target, met, ...extra }
}

/** One bpfkit drain path, in its own process; undefined when this bpfkit does not have it. */
function drainPath(config: Config, shape: Shape, mode: string): DrainResult | undefined {
  try {
    return bpfkit<DrainResult>(['drain', shape, mode, config.drainEvents[shape], config.drainRounds], 'ignore')
  } catch {
    return undefined
  }
}

/** The paths measured per shape, with their goals: [mode, label, ratio target, other goals]. */
const PATHS: Record<Shape, Array<[string, string, number?, Pick<Row, 'minRate' | 'gcFree'>?]>> = {
  '32': [
    ['batch', "batch (DataView over batch.bytes)", 0.5],
    ['data', "'data' (decoded objects)", 0.1, { minRate: 10e6 }],
    ['data-number', "'data', int64: 'number'"],
    ['view', 'batch.at(i) (reused view)', 0.3],
    ['view-number', "batch.at(i), int64: 'number'", 0.3, { gcFree: true }],
    ['iterator', 'for await (async iterator)'],
    ['stream', 'stream() (Readable)'],
  ],
  exec: [
    ['batch', 'batch (DataView over batch.bytes)'],
    ['data', "'data' (decoded objects)", 0.1, { minRate: 5e6 }],
    ['view', 'batch.at(i) (reused view)'],
    ['iterator', 'for await (async iterator)'],
  ],
  mixed: [
    ['batch', 'batch (DataView over batch.bytes)'],
    ['data', "'data' (decoded objects)"],
    ['view', 'batch.at(i) (reused view)'],
  ],
  '256': [
    ['batch', 'batch (DataView over batch.bytes)', 0.8],
    ['data', "'data' (decoded objects)"],
  ],
}

const SHAPE_LABELS: Record<Shape, string> = {
  '32': '32 B: struct of four u64',
  exec: '156 B: execsnoop event (pid, ppid, uid, comm[16], filename[127])',
  mixed: '64 B: u8 data[16], u32 addrs[4], nested struct',
  '256': '256 B: u64 + u8[248]',
}

/** Drain capacity of one event shape: C, then each bpfkit path, each in its own process. */
function drainRows(config: Config, baseline: string, shape: Shape): Row[] {
  const c = onCpu0<{ rates: number[]; cpuRates: number[] }>(baseline,
    ['drain', object, shape, String(config.drainEvents[shape]), String(config.drainRounds)])
  const cRate = median(c.rates)
  const cCpu = median(c.cpuRates)
  return PATHS[shape].map(([mode, label, target, goals]) => {
    const result = drainPath(config, shape, mode)
    return row(`${shape.padStart(5)}  ${label}`, cRate, result === undefined ? undefined : median(result.rates), target, {
      ...goals,
      gcPerMillion: result?.gcPerMillion,
      cpuRatio: result?.cpuRates === undefined ? undefined : median(result.cpuRates) / cCpu,
    })
  })
}

type Policy = 'default' | 'threshold'
type LiveRuns = Record<Policy, { c: LiveResult[]; bpfkit: LiveResult[] }>

/** Live runs go round by round through C and bpfkit under both policies, so that all four see the same machine. */
function liveRuns(config: Config, baseline: string): LiveRuns {
  const runs: LiveRuns = { default: { c: [], bpfkit: [] }, threshold: { c: [], bpfkit: [] } }
  for (let round = 0; round < config.liveRounds; round++) {
    for (const policy of ['default', 'threshold'] as const) {
      const wakeup = policy === 'threshold' ? [String(WAKEUP.bytes), String(WAKEUP.maxLatencyMs)] : []
      runs[policy].c.push(onCpu0<LiveResult>(baseline, ['live', object, String(config.liveSeconds), String(config.burst), ...wakeup]))
      runs[policy].bpfkit.push(bpfkit<LiveResult>(['live', config.liveSeconds, config.burst, baseline, ...wakeup]))
    }
  }
  return runs
}

/** Medians over the rounds of a live configuration. */
function summary(runs: LiveResult[]): { rate: number; dropped: number; produced: number; cpu: number } {
  return {
    rate: median(runs.map((r) => r.rate)),
    dropped: median(runs.map((r) => r.dropped)),
    produced: median(runs.map((r) => r.produced)),
    cpu: median(runs.map((r) => r.cpu)),
  }
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2))
  if (os.availableParallelism() < 2) throw new Error('the ring buffer benchmark needs 2 CPUs (consumer on CPU 0, producer on CPU 1)')
  const baseline = buildBaseline('ringbuf')

  const drain = config.shapes.flatMap((shape) => drainRows(config, baseline, shape))
  if (!config.live) {
    if (config.json) console.log(JSON.stringify({ config, drain }, null, 2))
    else printDrain(config, drain)
    return
  }
  const live = liveRuns(config, baseline)
  const cDefault = summary(live.default.c)
  const cThreshold = summary(live.threshold.c)
  const jsDefault = summary(live.default.bpfkit)
  const jsThreshold = summary(live.threshold.bpfkit)
  const liveRows = [
    row('default (kernel wakeups)', cDefault.rate, jsDefault.rate),
    row(`threshold (${WAKEUP.bytes / 1024} KiB or ${WAKEUP.maxLatencyMs} ms)`, cThreshold.rate, jsThreshold.rate, 0.9),
  ]
  const speedup = jsThreshold.rate / jsDefault.rate
  const soak = config.soakSeconds === 0 ? undefined
    : bpfkit<SoakResult>(['soak', config.soakSeconds, config.soakWarmup, config.burst, baseline, WAKEUP.bytes, WAKEUP.maxLatencyMs])
  const growth = soak === undefined ? undefined : soak.rssEnd / soak.rssStart - 1

  if (config.json) {
    console.log(JSON.stringify({
      config: { ...config, wakeup: WAKEUP },
      drain,
      live: { rows: liveRows, thresholdOverDefault: { ratio: speedup, target: 5, met: speedup >= 5 }, runs: live },
      soak: soak === undefined ? null : { ...soak, growth, target: 0.1, met: Math.abs(growth as number) <= 0.1 },
    }, null, 2))
    return
  }

  printDrain(config, drain)
  const verdict = (r: Row): string => r.target === undefined ? '' : `  ≥ ${r.target.toFixed(1)}× ${r.met ? 'met' : 'MISSED'}`
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`

  console.log()
  console.log(`ringbuf live: getegid() loop on CPU 1, ${config.burst} × 32 B events per call (bpf_loop); consumer on CPU 0 ` +
    `(bpfkit: batch path); median of ${config.liveRounds} × ${config.liveSeconds} s runs`)
  console.log(`${'wakeup policy'.padEnd(30)}${'C events/s'.padStart(13)}${'dropped'.padStart(9)}${'CPU'.padStart(6)}` +
    `${'bpfkit events/s'.padStart(17)}${'dropped'.padStart(9)}${'CPU'.padStart(6)}${'ratio'.padStart(8)}  target`)
  const pct = (x: number): string => `${Math.round(x * 100)}%`
  const sides = [[cDefault, jsDefault], [cThreshold, jsThreshold]]
  liveRows.forEach((r, i) => {
    const [c, js] = sides[i] as [typeof cDefault, typeof jsDefault]
    console.log(`${r.label.padEnd(30)}${num(r.c).padStart(13)}${num(c.dropped).padStart(9)}${pct(c.cpu).padStart(6)}` +
      `${num(r.bpfkit ?? 0).padStart(17)}${num(js.dropped).padStart(9)}${pct(js.cpu).padStart(6)}${`${(r.ratio ?? 0).toFixed(2)}×`.padStart(8)}${verdict(r)}`)
  })
  console.log(`bpfkit threshold ÷ default: ${speedup.toFixed(2)}× (C: ${(cThreshold.rate / cDefault.rate).toFixed(2)}×)  ` +
    `≥ 5.0× ${speedup >= 5 ? 'met' : 'MISSED'}`)
  const allRuns = [live.default, live.threshold].flatMap((p) => [...p.c, ...p.bpfkit])
  if (allRuns.every((r) => r.dropped === 0)) {
    console.log('(no run dropped an event: every consumer kept up, so events/s is the rate the producer reached under ' +
      'each policy; CPU is the consumer process\'s CPU time per second, all threads)')
  }

  console.log()
  if (soak === undefined || growth === undefined) {
    console.log('ringbuf soak: skipped (--soak 0)')
  } else {
    console.log(`ringbuf soak: bpfkit typed consumer ('data'), threshold policy, full rate for ${config.soakSeconds} s ` +
      `after ${config.soakWarmup} s warm-up: ${num(soak.rate)} events/s, ${num(soak.dropped)} dropped of ${num(soak.produced)}`)
    console.log(`RSS ${mib(soak.rssStart)} after warm-up → ${mib(soak.rssEnd)} at end (${growth >= 0 ? '+' : ''}` +
      `${(growth * 100).toFixed(1)}%; peak ${mib(soak.rssMax)}; JS heap ${mib(soak.heapStart)} → ${mib(soak.heapEnd)})  ` +
      `within ±10% ${Math.abs(growth) <= 0.1 ? 'met' : 'MISSED'}`)
  }
}

const num = (x: number): string => Math.round(x).toLocaleString('en-US')

/** The drain table: one block per event shape, each path's rate against C's and its goals. */
function printDrain(config: Config, rows: Row[]): void {
  console.log('ringbuf drain capacity: the ring pre-filled, then read to the end; each path reads one field per event ' +
    `(bpfkit's decoded paths decode every field); median of ${config.drainRounds} rounds after 1 warm-up; consumers on CPU 0`)
  console.log(`${'shape  path'.padEnd(44)}${'C events/s'.padStart(14)}${'bpfkit events/s'.padStart(17)}${'ratio'.padStart(8)}` +
    `${'CPU-time'.padStart(10)}${'GC/M'.padStart(7)}  goal`)
  let shape: string | undefined
  for (const r of rows) {
    const current = r.label.slice(0, 5).trim()
    if (current !== shape) {
      shape = current
      console.log(`${SHAPE_LABELS[current as Shape]} (${num(config.drainEvents[current as Shape])} events)`)
    }
    const goals = [
      r.target === undefined ? undefined : `≥ ${r.target.toFixed(1)}×`,
      r.minRate === undefined ? undefined : `≥ ${r.minRate / 1e6} M/s`,
      r.gcFree ? 'no GC' : undefined,
    ].filter((g) => g !== undefined).join(', ')
    const verdict = r.met === undefined ? '' : `  ${goals} ${r.met ? 'met' : 'MISSED'}`
    const gc = r.gcPerMillion === undefined ? '' : r.gcPerMillion.toFixed(r.gcPerMillion < 10 ? 1 : 0)
    console.log(`${r.label.padEnd(44)}${num(r.c).padStart(14)}${(r.bpfkit === undefined ? 'n/a' : num(r.bpfkit)).padStart(17)}` +
      `${(r.ratio === undefined ? '' : `${r.ratio.toFixed(3)}×`).padStart(8)}` +
      `${(r.cpuRatio === undefined ? '' : `${r.cpuRatio.toFixed(3)}×`).padStart(10)}${gc.padStart(7)}${verdict}`)
  }
  console.log('(ratio: events/s against C in the same run; CPU-time: events per CPU-second against C, which other load on ' +
    'the machine disturbs less; GC/M: garbage collections per million events)')
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
