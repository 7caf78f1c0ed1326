// The soak: open → load → attach → reader → close, 10,000 times, then 2,000 worker threads that load,
// attach and read, and exit without closing. Reports descriptors and RSS at the start, after warm-up and
// at the end, and fails when descriptors or kernel objects are left, or RSS grew 5% after warm-up.
//   npm run soak [-- --cycles 10000] [--workers 2000] [--json]
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Worker } from 'node:worker_threads'
import { BpfObject } from 'bpfkit'

const root = path.resolve(__dirname, '..')
const fixture = path.join(root, 'test/fixtures/sequence.bpf.o')

function option(flag: string, fallback: number): number {
  const i = process.argv.indexOf(flag)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length
}

/** BPF programs, maps and links this process holds (from fdinfo). */
function bpfObjects(): number {
  return fs.readdirSync('/proc/self/fdinfo').filter((fd) => {
    try {
      return /^(prog_id|map_id|link_id):/m.test(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
    } catch {
      return false
    }
  }).length
}

interface Sample {
  fds: number
  bpf: number
  rssMiB: number
}

function sample(): Sample {
  global.gc?.()
  return { fds: openFds(), bpf: bpfObjects(), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20 * 10) / 10 }
}

async function cycle(events: boolean): Promise<void> {
  const obj = BpfObject.open(fixture)
  await obj.load()
  obj.attach()
  const reader = obj.ringBuffer('events')
  reader.on('data', () => {})
  if (events) {
    obj.map('settings').set(0, { pid: process.pid, burst: 16, targets: 1 })
    process.getegid?.()
  }
  obj.close()
}

function worker(): Promise<void> {
  const script = `
    const { BpfObject } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
    const obj = BpfObject.open(${JSON.stringify(fixture)})
    obj.load().then(() => { obj.attach(); obj.ringBuffer('events').resume(); process.exit(0) })`
  return new Promise((resolve, reject) => {
    const w = new Worker(script, { eval: true })
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`))))
  })
}

async function main(): Promise<void> {
  const cycles = option('--cycles', 10_000)
  const workers = option('--workers', 2_000)
  const warmup = Math.min(1000, Math.floor(cycles / 10))
  const started = performance.now()
  const report: Record<string, unknown> = { cycles, workers, start: sample() }
  for (let i = 0; i < cycles; i++) {
    await cycle(i % 10 === 0)
    if (i + 1 === warmup) report.afterWarmup = sample()
    if ((i + 1) % 1000 === 0) process.stderr.write(`soak: ${i + 1}/${cycles} cycles, ${JSON.stringify(sample())}\n`)
  }
  report.afterCycles = sample()
  // Two at a time: a worker's start is mostly waiting.
  for (let i = 0; i < workers; i += 2) {
    await Promise.all([worker(), ...(i + 1 < workers ? [worker()] : [])])
    if ((i + 2) % 500 === 0) process.stderr.write(`soak: ${i + 2}/${workers} workers, ${JSON.stringify(sample())}\n`)
  }
  report.end = sample()
  report.seconds = Math.round((performance.now() - started) / 1000)
  const base = (report.afterWarmup ?? report.start) as Sample
  const end = report.end as Sample
  const start = report.start as Sample
  const growth = (end.rssMiB - base.rssMiB) / base.rssMiB
  report.rssGrowthAfterWarmup = `${(growth * 100).toFixed(1)}%`
  const problems = [
    ...(end.fds > start.fds ? [`descriptors: ${start.fds} at the start, ${end.fds} at the end`] : []),
    ...(end.bpf !== 0 ? [`${end.bpf} BPF objects left open`] : []),
    ...(growth >= 0.05 ? [`RSS grew ${report.rssGrowthAfterWarmup} after warm-up`] : []),
  ]
  report.problems = problems
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  } else {
    const s = (x: Sample): string => `${x.fds} fds, ${x.bpf} BPF objects, RSS ${x.rssMiB} MiB`
    process.stdout.write([
      `soak: ${cycles} open → load → attach → reader → close cycles and ${workers} workers in ${report.seconds} s`,
      `  start:          ${s(start)}`,
      `  after warm-up:  ${s(base)} (${warmup} cycles)`,
      `  after cycles:   ${s(report.afterCycles as Sample)}`,
      `  end:            ${s(end)}`,
      `  RSS growth after warm-up: ${report.rssGrowthAfterWarmup}`,
      ...problems.map((p) => `  problem: ${p}`),
      '',
    ].join('\n'))
  }
  process.exitCode = problems.length === 0 ? 0 : 1
}

void main()
