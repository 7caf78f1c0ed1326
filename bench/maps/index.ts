// Maps benchmark: bpfkit's typed map operations against a C libbpf baseline measured in the same run.
//   npm run bench:maps [-- --json] [-- --rounds N]        (as root)
// The whole benchmark, C baseline included, runs pinned to CPU 0, as the others do.
import { execFileSync, spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { performance } from 'node:perf_hooks'
import { BpfObject, type BpfMap } from 'bpfkit'
import { buildBaseline, median, roundsArgs } from '../baseline'

/** Single-element operations per measurement. */
const SINGLE_OPS = 200_000
/** Entries per batch call; also the number of distinct keys the single operations cycle over. */
const BATCH_ENTRIES = 100_000
/** Entries of the connections map (struct key; a value with a char[4] and u64s). */
const CONN_ENTRIES = 50_000

const root = path.resolve(__dirname, '../..')
const object = path.join(__dirname, 'maps.bpf.o')

type Name = 'update' | 'lookup' | 'updateBatch' | 'lookupBatch' | 'deleteBatch' | 'connUpdateBatch' | 'connLookupBatch' |
  'connLookupNumbers' | 'connEntries'
type Rates = Record<Name, number>
/** A round's rates in wall time, and in CPU time (which other processes on the CPU disturb less). */
type Round = Rates & { cpu: Rates }

/** Each measurement, and the C measurement it is compared with (its own name when not given). */
const MEASUREMENTS: ReadonlyArray<{ name: Name; label: string; target?: number; c?: Name }> = [
  { name: 'update', label: 'set          ↔ bpf_map_update_elem', target: 0.8 },
  { name: 'lookup', label: 'get          ↔ bpf_map_lookup_elem', target: 0.8 },
  { name: 'updateBatch', label: 'setMany      ↔ bpf_map_update_batch', target: 0.8 },
  { name: 'lookupBatch', label: 'getMany()    ↔ bpf_map_lookup_batch', target: 0.8 },
  { name: 'deleteBatch', label: 'deleteMany   ↔ bpf_map_delete_batch', target: 0.8 },
  { name: 'connUpdateBatch', label: 'conns: setMany ↔ bpf_map_update_batch', target: 0.8 },
  { name: 'connLookupBatch', label: 'conns: getMany() ↔ bpf_map_lookup_batch', target: 0.8 },
  { name: 'connLookupNumbers', label: "conns: getMany(), int64: 'number'", c: 'connLookupBatch' },
  { name: 'connEntries', label: 'conns: for…of entries() (not kept)', c: 'connLookupBatch' },
]

interface Value {
  packets: bigint
  bytes: bigint
  flags: number
  pad: number
}

interface ConnKey {
  saddr: number
  daddr: number
  sport: number
  dport: number
  proto: number
}

interface ConnStats {
  tag: string
  flags: number
  packets: bigint | number
  bytes: bigint | number
}

/** Connection i: the same bytes baseline.c's conn_of(i) builds. */
function connOf(i: number): [ConnKey, ConnStats] {
  return [
    { saddr: 0x0a000000 + i, daddr: 0x0a000001, sport: 1024 + (i % 60000), dport: 443, proto: i & 1 ? 17 : 6 },
    { tag: i & 1 ? 'udp' : 'tcp', flags: i & 0xff, packets: BigInt(i), bytes: BigInt(i) * 1500n },
  ]
}

/** The value stored under key k: the same bytes baseline.c's value_of(k) builds. */
function valueOf(k: number): Value {
  return { packets: BigInt(k), bytes: BigInt(k) * 64n, flags: k & 0xff, pad: 0 }
}

function runBaseline(binary: string): Round {
  const output = execFileSync(binary, [object, String(SINGLE_OPS), String(BATCH_ENTRIES), String(CONN_ENTRIES)], { encoding: 'utf8' })
  return JSON.parse(output) as Round
}

/** Times measurements in wall and CPU time into one Round. */
function timer(): { start(): void; stop(name: Name, count: number): void; round: Round } {
  const round = { cpu: {} } as Round
  let wall = 0
  let cpu = process.cpuUsage()
  return {
    start() {
      wall = performance.now()
      cpu = process.cpuUsage()
    },
    stop(name, count) {
      const seconds = (performance.now() - wall) / 1e3
      const { user, system } = process.cpuUsage(cpu)
      round[name] = count / seconds
      round.cpu[name] = count / ((user + system) / 1e6)
    },
    round,
  }
}

/** Inputs shared by every bpfkit round, built once and outside any timing (baseline.c does the same). */
interface Inputs {
  keys: number[]
  values: Value[]
  entries: Array<[number, Value]>
  conns: Array<[ConnKey, ConnStats]>
}

function fail(what: string): never {
  throw new Error(`bpfkit side: ${what}`)
}

/** The typed maps of maps.bpf.o that a round uses. */
interface Maps {
  flows: BpfMap<number, Value>
  conns: BpfMap<ConnKey, ConnStats>
  /** conns again, decoding 64-bit fields as numbers (undefined: this bpfkit cannot). */
  connNumbers: BpfMap<ConnKey, ConnStats> | undefined
}

/** One round of the measurements on maps that start and end empty, as baseline.c's main(). */
function runBpfkit({ flows: map, conns, connNumbers }: Maps, { keys, values, entries, conns: connEntries }: Inputs): Round {
  const n = keys.length
  const time = timer()

  time.start()
  for (let i = 0; i < SINGLE_OPS; i++) {
    const k = i % n
    map.set(k, values[k] as Value)
  }
  time.stop('update', SINGLE_OPS)

  time.start()
  for (let i = 0; i < SINGLE_OPS; i++) {
    if (map.get(i % n) === undefined) fail(`get(${i % n}) found nothing`)
  }
  time.stop('lookup', SINGLE_OPS)

  // Emptied as the C baseline empties it (bpf_map_delete_batch in key order), so that both insert into
  // the same free-list order.
  map.deleteMany(keys)
  time.start()
  map.setMany(entries)
  time.stop('updateBatch', n)

  time.start()
  const all = map.getMany()
  time.stop('lookupBatch', n)
  if (all.length !== n) fail(`getMany() returned ${all.length} entries, expected ${n}`)
  const [k, v] = all[all.length - 1] as [number, Value]
  if (v.bytes !== values[k]?.bytes || v.flags !== values[k]?.flags) fail(`getMany() decoded key ${k} wrongly`)

  time.start()
  const deleted = map.deleteMany(keys)
  time.stop('deleteBatch', n)
  if (deleted !== n) fail(`deleteMany() deleted ${deleted} keys, expected ${n}`)

  time.start()
  conns.setMany(connEntries)
  time.stop('connUpdateBatch', connEntries.length)
  time.start()
  const read = conns.getMany()
  time.stop('connLookupBatch', read.length)
  if (read.length !== connEntries.length) fail(`conns.getMany() returned ${read.length} entries, expected ${connEntries.length}`)
  const [key, stats] = read[read.length - 1] as [ConnKey, ConnStats]
  const i = key.saddr - 0x0a000000
  if (stats.tag !== (i & 1 ? 'udp' : 'tcp') || BigInt(stats.bytes) !== BigInt(i) * 1500n) fail(`conns.getMany() decoded entry ${i} wrongly`)
  time.round.connLookupNumbers = time.round.cpu.connLookupNumbers = NaN
  if (connNumbers !== undefined) {
    time.start()
    const numbers = connNumbers.getMany()
    time.stop('connLookupNumbers', numbers.length)
    if (typeof (numbers[0] as [ConnKey, ConnStats])[1].packets !== 'number') fail("int64: 'number' decoded a bigint")
  }
  // The same entries iterated and dropped: what materialising all of them at once costs in garbage
  // collection, iteration does not.
  time.start()
  let iterated = 0
  for (const [, value] of conns.entries()) iterated += value.flags >= 0 ? 1 : 0
  time.stop('connEntries', iterated)
  if (iterated !== connEntries.length) fail(`conns.entries() gave ${iterated} entries, expected ${connEntries.length}`)
  conns.deleteMany(connEntries.map(([k]) => k))
  return time.round
}

async function main(): Promise<void> {
  const { json, rounds } = roundsArgs(process.argv.slice(2), 'bench:maps', 5)
  if (process.env.BPFKIT_BENCH_PINNED === undefined) {
    const pinned = spawnSync('taskset', ['-c', '0', process.execPath, ...process.execArgv, __filename, ...process.argv.slice(2)],
      { stdio: 'inherit', env: { ...process.env, BPFKIT_BENCH_PINNED: '1' } })
    process.exit(pinned.status ?? 1)
  }
  const baseline = buildBaseline('maps')

  const obj = BpfObject.open(object)
  await obj.load()
  let connNumbers: BpfMap<ConnKey, ConnStats> | undefined
  try {
    connNumbers = (obj.map as (name: string, options: object) => BpfMap<ConnKey, ConnStats>)('conns', { int64: 'number' })
    if (connNumbers === obj.map('conns')) connNumbers = undefined
  } catch {
    connNumbers = undefined
  }
  const maps: Maps = { flows: obj.map('flows'), conns: obj.map('conns'), connNumbers }
  const keys = Array.from({ length: BATCH_ENTRIES }, (_, k) => k)
  const values = keys.map(valueOf)
  const conns = Array.from({ length: CONN_ENTRIES }, (_, i) => connOf(i))
  const inputs: Inputs = { keys, values, entries: keys.map((k) => [k, values[k] as Value]), conns }

  const c: Round[] = []
  const js: Round[] = []
  // Round 0 warms both sides up (JIT, codecs, kernel allocations) and is not counted.
  for (let round = 0; round <= rounds; round++) {
    const cRates = runBaseline(baseline)
    const jsRates = runBpfkit(maps, inputs)
    if (round > 0) {
      c.push(cRates)
      js.push(jsRates)
    }
  }
  obj.close()

  const results = MEASUREMENTS.map(({ name, label, target, c: against }) => {
    const cOps = median(c.map((r) => r[against ?? name]))
    const jsOps = median(js.map((r) => r[name]))
    const ratio = jsOps / cOps
    const cpuRatio = median(js.map((r) => r.cpu[name])) / median(c.map((r) => r.cpu[against ?? name]))
    return { name, label, c: cOps, bpfkit: jsOps, ratio, cpuRatio, target, met: target === undefined ? undefined : ratio >= target }
  })

  if (json) {
    const config = {
      map: 'hash __u32 → struct value (24 bytes)',
      conns: 'hash struct conn_key (16 bytes) → struct conn_stats (24 bytes: char[4], u32, 2 × u64)',
      singleOps: SINGLE_OPS,
      batchEntries: BATCH_ENTRIES,
      connEntries: CONN_ENTRIES,
      rounds,
    }
    console.log(JSON.stringify({ config, results, rounds: { c, bpfkit: js } }, null, 2))
    return
  }
  const ops = (x: number): string => Math.round(x).toLocaleString('en-US')
  console.log(`maps: hash map __u32 → struct value (24 B); ${ops(SINGLE_OPS)} single ops over ${ops(BATCH_ENTRIES)} keys, ` +
    `${ops(BATCH_ENTRIES)}-entry batches; conns: hash map struct conn_key → struct conn_stats (char[4], u32, 2 × u64), ` +
    `${ops(CONN_ENTRIES)} entries (ops/s = entries/s); median of ${rounds} rounds after 1 warm-up`)
  console.log(`${'measurement'.padEnd(42)}${'C ops/s'.padStart(13)}${'bpfkit ops/s'.padStart(14)}${'ratio'.padStart(8)}` +
    `${'CPU-time'.padStart(10)}  target`)
  for (const r of results) {
    const verdict = r.target === undefined ? '' : `  ≥ ${r.target.toFixed(1)}× ${r.met ? 'met' : 'MISSED'}`
    console.log(`${r.label.padEnd(42)}${ops(r.c).padStart(13)}${(Number.isNaN(r.bpfkit) ? 'n/a' : ops(r.bpfkit)).padStart(14)}` +
      `${(Number.isNaN(r.ratio) ? '' : `${r.ratio.toFixed(2)}×`).padStart(8)}` +
      `${(Number.isNaN(r.cpuRatio) ? '' : `${r.cpuRatio.toFixed(2)}×`).padStart(10)}${verdict}`)
  }
  console.log('(ratio: ops/s against C in the same run; CPU-time: ops per CPU-second against C, which other load on the ' +
    'machine disturbs less)')
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
