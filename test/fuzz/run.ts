// The corrupt-object fuzzer: mutated copies of every committed .bpf.o go through BpfObject.open(bytes) →
// load() → close() in child processes, many inputs per child. A child that dies is a crash of the input
// it was on; one that stays on an input past the limit is killed and counted as a hang. Each crash or
// hang is run again through libbpf alone (test/fuzz/libbpf.c) to say whose it is, and is kept in
// test/fuzz/corpus/, which every run replays.
//   npm run fuzz [-- --inputs 20000] [--seed N] [--jobs N] [--limit-ms 10000] [--json]
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { corpus, findings, keptFindings, makeInput, root } from './mutate'

export interface FuzzOptions {
  seed: number
  inputs: number
  jobs: number
  /** How long one input may run before its child is killed (a hang). */
  limitMs: number
  /** Inputs per child process: a start per input would cost more than most inputs. */
  batch?: number
  /** Called now and then with the counts so far. */
  progress?: (report: FuzzReport) => void
}

export interface Finding {
  kind: 'crash' | 'hang' | 'not-bpferror' | 'leak'
  /** The input's number in the run, or its file for a kept finding. */
  input: string
  detail: string
  /** For crashes and hangs: whether libbpf alone does the same (test/fuzz/libbpf.c). */
  libbpf?: boolean
  saved?: string
}

export interface FuzzReport {
  seed: number
  inputs: number
  done: number
  /** How the inputs ended: loaded, refused-open CODE, refused-load CODE… */
  outcomes: Record<string, number>
  crashes: number
  hangs: number
  leaks: number
  notBpfErrors: number
  findings: Finding[]
  seconds: number
}

const CHILD = path.join(__dirname, 'child.ts')

interface Range {
  from: number
  to: number
  replay: boolean
}

/** Runs `inputs` mutated inputs and every kept finding; resolves with what happened to each. */
export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now()
  const kept = keptFindings()
  const report: FuzzReport = {
    seed: options.seed, inputs: options.inputs + kept.length, done: 0, outcomes: {}, crashes: 0, hangs: 0, leaks: 0,
    notBpfErrors: 0, findings: [], seconds: 0,
  }
  const batch = options.batch ?? Math.ceil(options.inputs / options.jobs / 4)
  const queue: Range[] = []
  if (kept.length > 0) queue.push({ from: 0, to: kept.length, replay: true })
  for (let from = 0; from < options.inputs; from += batch) queue.push({ from, to: Math.min(from + batch, options.inputs), replay: false })
  const objects = corpus()
  const inputBytes = (index: number, replay: boolean): Buffer => (replay ? kept[index]!.bytes : makeInput(objects, options.seed, index).bytes)
  const name = (index: number, replay: boolean): string => (replay ? kept[index]!.name : `#${index}`)

  const record = (finding: Finding, bytes?: Buffer): void => {
    if (bytes !== undefined && (finding.kind === 'crash' || finding.kind === 'hang')) {
      finding.libbpf = libbpfAlone(bytes, options.limitMs)
      finding.saved = keep(finding.kind, bytes)
    }
    report.findings.push(finding)
  }

  const runRange = (range: Range): Promise<void> => new Promise((resolve) => {
    const args = ['--import', 'tsx', CHILD, String(options.seed), String(range.from), String(range.to), ...(range.replay ? ['--findings'] : [])]
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let current = -1
    let next = range.from
    let since = performance.now()
    let buffered = ''
    let stderr = ''
    let hung = false
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      let newline: number
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        if (line.startsWith('> ')) {
          current = Number(line.slice(2))
          since = performance.now()
          continue
        }
        const match = /^= (\d+) (\S+)(?: (.*))?$/.exec(line)
        if (match === null) continue
        const [, index, kind, detail = ''] = match as unknown as [string, string, string, string | undefined]
        current = -1
        next = Number(index) + 1
        report.done++
        const key = kind === 'loaded' || !kind.startsWith('refused') ? kind : `${kind} ${detail}`
        report.outcomes[key] = (report.outcomes[key] ?? 0) + 1
        if (kind === 'not-bpferror') {
          report.notBpfErrors++
          record({ kind: 'not-bpferror', input: name(Number(index), range.replay), detail: detail ?? '' })
        } else if (kind === 'leak') {
          report.leaks++
          record({ kind: 'leak', input: name(Number(index), range.replay), detail: detail ?? '' })
        }
        if (report.done % 250 === 0) options.progress?.({ ...report, seconds: (performance.now() - started) / 1000 })
      }
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
    const watchdog = setInterval(() => {
      if (current >= 0 && performance.now() - since > options.limitMs) {
        hung = true
        child.kill('SIGKILL')
      }
    }, 100)
    child.on('exit', (code, signal) => {
      clearInterval(watchdog)
      // A child killed mid-input had no chance to remove the pins of its objects (child.ts).
      fs.rmSync(`/sys/fs/bpf/bpfkit-fuzz-${child.pid}`, { recursive: true, force: true })
      const tail = stderr.trim().split('\n').slice(-3).join(' | ')
      if (current >= 0) {
        // It died on this input: killed as a hang, or a crash.
        const bytes = inputBytes(current, range.replay)
        report.done++
        const kind = hung ? 'hang' : 'crash'
        report.outcomes[kind] = (report.outcomes[kind] ?? 0) + 1
        if (hung) report.hangs++
        else report.crashes++
        record({ kind, input: name(current, range.replay), detail: hung ? `still running after ${options.limitMs} ms` : `${signal ?? `exit ${code}`}: ${tail}` }, bytes)
        next = current + 1
      } else if (code !== 0 && next < range.to) {
        // It died between inputs (starting up): as bad as a crash; its inputs go to another child.
        report.crashes++
        record({ kind: 'crash', input: `${name(next, range.replay)} (before it)`, detail: `${signal ?? `exit ${code}`}: ${tail}` })
        if (next === range.from) next = range.to
      }
      // A child stops after a leak or a crash: the rest of its range goes to a new one.
      if (next < range.to) queue.unshift({ from: next, to: range.to, replay: range.replay })
      resolve()
    })
  })

  const worker = async (): Promise<void> => {
    for (let range = queue.shift(); range !== undefined; range = queue.shift()) await runRange(range)
  }
  await Promise.all(Array.from({ length: options.jobs }, worker))
  report.seconds = (performance.now() - started) / 1000
  return report
}

/** Keeps a crashing or hanging input in the corpus, named by its content. */
function keep(kind: string, bytes: Buffer): string {
  fs.mkdirSync(findings, { recursive: true })
  const file = path.join(findings, `${kind}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`)
  fs.writeFileSync(file, bytes)
  return path.relative(root, file)
}

/**
 * Whether libbpf on its own, without bpfkit, crashes or hangs on the input the same way: the C harness
 * (open_mem → load → close, the static libbpf of deps/) built once per run.
 */
let harness: string | undefined
function libbpfAlone(bytes: Buffer, limitMs: number): boolean | undefined {
  try {
    if (harness === undefined) {
      const deps = path.join(root, 'deps', `linux-${process.arch}`)
      harness = path.join(os.tmpdir(), `bpfkit-fuzz-libbpf-${process.pid}`)
      execFileSync('cc', ['-O1', '-g', '-o', harness, path.join(__dirname, 'libbpf.c'), `-I${deps}/include`,
        ...['libbpf.a', 'libelf.a', 'libeu.a', 'libz.a'].map((lib) => path.join(deps, 'lib', lib))])
    }
    const input = path.join(os.tmpdir(), `bpfkit-fuzz-input-${process.pid}`)
    fs.writeFileSync(input, bytes)
    const result = spawnSync(harness, [input], { timeout: limitMs, stdio: 'ignore' })
    fs.rmSync(input, { force: true })
    return result.signal !== null
  } catch {
    return undefined
  }
}

function summary(report: FuzzReport): string {
  const byCount = Object.entries(report.outcomes).sort((a, b) => b[1] - a[1])
  const lines = [
    `fuzz: ${report.done} inputs (seed ${report.seed}) in ${report.seconds.toFixed(0)} s: ${report.crashes} crashes, ${report.hangs} hangs, ` +
      `${report.leaks} fd leaks, ${report.notBpfErrors} non-BpfErrors`,
    `  outcomes: ${byCount.map(([key, n]) => `${key} ${n}`).join(', ')}`,
    ...report.findings.map((f) => `  ${f.kind} ${f.input}${f.libbpf === undefined ? '' : f.libbpf ? ' (libbpf alone too)' : ' (bpfkit only)'}: ${f.detail}${f.saved ? ` → ${f.saved}` : ''}`),
  ]
  return lines.join('\n')
}

function cli(): void {
  const args = process.argv.slice(2)
  const value = (flag: string, fallback: number): number => {
    const i = args.indexOf(flag)
    return i >= 0 ? Number(args[i + 1]) : fallback
  }
  const options: FuzzOptions = {
    seed: value('--seed', Date.now() % 1_000_000),
    inputs: value('--inputs', 20_000),
    jobs: value('--jobs', os.availableParallelism()),
    limitMs: value('--limit-ms', 10_000),
  }
  const json = args.includes('--json')
  if (!json) {
    options.progress = (r) => process.stderr.write(`fuzz: ${r.done}/${r.inputs} inputs, ${r.seconds.toFixed(0)} s, ${r.crashes} crashes, ${r.hangs} hangs\n`)
  }
  void fuzz(options).then((report) => {
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${summary(report)}\n`)
    process.exitCode = report.crashes + report.hangs + report.leaks + report.notBpfErrors === 0 ? 0 : 1
  })
}

if (require.main === module) cli()

export { summary }
