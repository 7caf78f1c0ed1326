// uprobe-trace: builds and runs a small C program (uprobe-trace/target.c) and prints every call of
// its checksum() function with the arguments, the return value and the time spent in it, from a
// uprobe and a uretprobe (uprobe-trace.bpf.c).
//   npm run uprobe-trace [-- --count N] [--json] [--interval MS]     (as root)
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { open, type Event } from './uprobe-trace.skel'

const MAX_STR_LEN = 32 // struct event's s[]: longer strings arrive cut to 31 bytes

type Target = ChildProcessByStdio<Writable, Readable, null>

/** Resolves once the target has printed "ready" (it then waits for a line on stdin before calling checksum()). */
function ready(target: Target): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = ''
    // Keeps reading after "ready": the target prints every checksum and must never block on a full pipe.
    target.stdout.on('data', (chunk: Buffer) => {
      if (out.length < 6) out += chunk.toString()
      if (out.startsWith('ready\n')) resolve()
    })
    target.once('error', reject)
    target.once('exit', (code) => reject(new Error(`the target exited (${code}) before it was ready`)))
  })
}

function call(e: Event): string {
  const cut = e.s.length === MAX_STR_LEN - 1 && e.len > e.s.length ? '…' : ''
  return `checksum(${JSON.stringify(e.s)}${cut}, ${e.len}) = ${e.ret}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      json: { type: 'boolean', default: false },
      interval: { type: 'string', default: '100' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log('usage: uprobe-trace [--count N] [--json] [--interval MS]\n' +
      '  --count N      stop after N calls\n  --json         one JSON object per call\n' +
      '  --interval MS  the target calls checksum() every MS milliseconds (default 100)')
    return
  }
  const count = values.count === undefined ? Infinity : Number(values.count)
  const interval = Number(values.interval)
  if (!(count >= 1) || !Number.isInteger(interval) || interval < 1) throw new Error('--count and --interval must be positive integers')

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-uprobe-trace-'))
  try {
    const binary = path.join(dir, 'uprobe-trace-target')
    // -g -O1 with checksum() noinline: a real function with a symbol the uprobe can find.
    execFileSync('cc', ['-g', '-O1', '-o', binary, path.join(__dirname, 'uprobe-trace', 'target.c')], { stdio: 'inherit' })

    await using skel = await open().load()
    const target: Target = spawn(binary, [String(interval)], { stdio: ['pipe', 'pipe', 'inherit'] })
    target.stdin.on('error', () => {}) // EPIPE if it died: its exit status says why
    const exited = new Promise<number | null>((resolve) => {
      target.once('exit', (code) => resolve(code))
      target.once('error', () => resolve(null)) // could not start: ready() says why
    })
    let stopping = false
    const stop = (): void => {
      stopping = true
      skel.close() // detaches both probes and ends the loop below
    }
    // Ctrl-C reaches us more than once under npm: keep handling it.
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    try {
      await ready(target)
      target.once('exit', (code) => {
        if (stopping) return
        console.error(`the target exited (${code}) while being traced`)
        process.exitCode = 1
        stop()
      })
      // Only this process: another copy of the binary running elsewhere is not traced.
      const where = { binary, symbol: 'checksum', pid: target.pid! }
      skel.progs.checksum_entry.attachUprobe(where)
      skel.progs.checksum_exit.attachUprobe({ ...where, retprobe: true })
      const events = skel.maps.events.reader() // RingBuffer<Event>: struct event, decoded

      const log = values.json ? console.error : console.log
      log(`Tracing checksum() of ${binary} (pid ${target.pid})… Ctrl-C to stop.`)
      if (!values.json) console.log(`${'PID'.padEnd(8)}${'TID'.padEnd(8)}${'LATENCY(ns)'.padStart(11)}  CALL`)
      target.stdin.write('go\n')

      let seen = 0
      for await (const e of events) {
        if (values.json) {
          console.log(JSON.stringify({ pid: e.pid, tid: e.tid, s: e.s, len: e.len, ret: e.ret, latencyNs: Number(e.latency_ns) }))
        } else {
          console.log(`${String(e.pid).padEnd(8)}${String(e.tid).padEnd(8)}${String(e.latency_ns).padStart(11)}  ${call(e)}`)
        }
        if (++seen >= count) break
      }
    } finally {
      stopping = true
      target.stdin.end() // the target exits when its stdin closes
      await exited
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
