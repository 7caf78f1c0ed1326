// Scrape benchmark: bpfkit/metrics reading a 10,000-entry counter map (3-field struct key) and a 64-slot
// histogram for 100 label sets into Prometheus text, against `bpftool map dump` of the same maps in the
// same run (a C libbpf program reading and printing them).
//   npm run bench:metrics [-- --json] [-- --rounds N]        (as root)
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { performance } from 'node:perf_hooks'
import { Registry } from 'prom-client'
import { BpfObject } from 'bpfkit'
import { MapCounter, MapHistogram } from 'bpfkit/metrics'

const COMMS = ['nginx', 'node', 'postgres', 'bash', 'systemd-journal', 'sshd', 'kworker/0:1', 'containerd']

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]!
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json')
  const roundsAt = process.argv.indexOf('--rounds')
  const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 21
  await using obj = BpfObject.open(path.join(__dirname, 'metrics.bpf.o'))
  await obj.load()
  const flows = obj.map('flows')
  flows.setMany(Array.from({ length: 10_000 }, (_, i) => [{ pid: 1000 + i, cpu: i % 8, comm: COMMS[i % COMMS.length] }, BigInt(i * 37)] as const))
  const latency = obj.map('latency')
  const entries: Array<[{ dev: number; op: number; slot: number }, bigint]> = []
  for (let set = 0; set < 100; set++) {
    for (let slot = 0; slot < 64; slot++) entries.push([{ dev: (8 << 20) | set, op: set % 4, slot }, BigInt(set + slot)])
  }
  latency.setMany(entries)

  const registry = new Registry()
  new MapCounter({ name: 'flows_total', help: 'Flows', map: flows, registers: [registry] })
  new MapHistogram({ name: 'latency', unit: 'seconds', help: 'Latency', map: latency, bucketType: 'exp2', bucketMax: 63,
    bucketMultiplier: 1e-9, labels: { dev: { decoders: ['majorminor'] }, op: { decoders: [{ name: 'static', table: { 0: 'read', 1: 'write' }, default: 'other' }] } },
    registers: [registry] })

  let bytes = 0
  const scrape: number[] = []
  for (let i = 0; i < rounds + 2; i++) {
    const start = performance.now()
    const text = await registry.metrics()
    if (i >= 2) scrape.push(performance.now() - start) // the first two warm the JIT up
    bytes = text.length
  }
  const dump: number[] = []
  for (let i = 0; i < rounds; i++) {
    const start = performance.now()
    for (const map of [flows, latency]) execFileSync('bpftool', ['map', 'dump', 'id', String(map.id)], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] })
    dump.push(performance.now() - start)
  }
  const result = { scrapeMs: median(scrape), bpftoolDumpMs: median(dump), ratio: median(scrape) / median(dump), exposition: bytes, rounds }
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  process.stdout.write(`scrape (10,000-entry counter + 100×64-slot histogram): median ${result.scrapeMs.toFixed(1)} ms, ${(bytes / 1024).toFixed(0)} KiB of text\n`)
  process.stdout.write(`bpftool map dump of both maps:                        median ${result.bpftoolDumpMs.toFixed(1)} ms\n`)
  process.stdout.write(`ratio scrape / dump: ${result.ratio.toFixed(2)} (target ≤ 1)\n`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
