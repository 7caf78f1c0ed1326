// opensnoop: prints every openat() on the machine (PID COMM FD ERR PATH) until Ctrl-C.
//   npm run opensnoop [-- --pid N] [--name COMM] [--failed] [--json] [--count N] [--duration S]     (as root)
import { parseArgs } from 'node:util'
import { open, type Event } from './opensnoop.skel'

const USAGE = `usage: opensnoop [--pid N] [--name COMM] [--failed] [--json] [--count N] [--duration S]
  --pid N       only opens by process N
  --name COMM   only opens by processes whose command name (/proc/PID/comm) is COMM
  --failed      only opens that failed
  --json        one JSON object per open instead of a table
  --count N     stop after N opens
  --duration S  stop after S seconds`

const TASK_COMM_LEN = 16

function line(e: Event): string {
  const fd = e.ret >= 0 ? e.ret : -1
  const err = e.ret >= 0 ? 0 : -e.ret
  return `${String(e.pid).padEnd(8)}${e.comm.padEnd(17)}${String(fd).padStart(4)}${String(err).padStart(4)} ${e.path}`
}

function json(e: Event): string {
  return JSON.stringify({
    pid: e.pid,
    uid: e.uid,
    comm: e.comm,
    fd: e.ret >= 0 ? e.ret : -1,
    err: e.ret >= 0 ? 0 : -e.ret,
    flags: e.flags,
    path: e.path,
  })
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pid: { type: 'string' },
      name: { type: 'string' },
      failed: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      count: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const pid = values.pid === undefined ? 0 : Number(values.pid)
  const limit = values.count === undefined ? Infinity : Number(values.count)
  const duration = values.duration === undefined ? Infinity : Number(values.duration)
  if (!Number.isInteger(pid) || pid < 0 || pid > 0x7fffffff) throw new Error(`--pid: a process id, not '${values.pid}'`)
  if (values.name === '') throw new Error('--name: a command name, not an empty string')
  if (!(limit > 0)) throw new Error(`--count: a positive number, not '${values.count}'`)
  if (!(duration > 0)) throw new Error(`--duration: a positive number of seconds, not '${values.duration}'`)

  const skel = open()
  // The filters are `const volatile` globals: set before load, the verifier then sees them as constants
  // and the programs drop what does not match in the kernel.
  skel.rodata.target_pid = pid
  // The kernel keeps the first 15 bytes of a command name.
  if (values.name !== undefined) skel.rodata.target_comm = Buffer.from(values.name).subarray(0, TASK_COMM_LEN - 1).toString()
  skel.rodata.failed_only = values.failed
  const loaded = await skel.load()
  loaded.attach()
  const events = loaded.maps.events.reader() // RingBuffer<Event>: struct event, decoded
  const obj = loaded.object

  let dropped = 0
  // Ctrl-C reaches us more than once under npm (from the terminal and relayed by npm and tsx): keep handling it.
  const stop = (): void => {
    if (!events.closed) dropped = events.stats().dropped ?? 0 // counted by bpfkit.bpf.h; readable until close
    obj.close() // detaches the tracepoints and ends the loop below
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  const timer = duration === Infinity ? undefined : setTimeout(stop, duration * 1000)

  // With --json, stdout carries only the events.
  if (values.json) console.error('Tracing openat()… Ctrl-C to stop.')
  else console.log(`${'PID'.padEnd(8)}${'COMM'.padEnd(17)}${'FD'.padStart(4)}${'ERR'.padStart(4)} PATH`)
  let printed = 0
  for await (const e of events) {
    console.log(values.json ? json(e) : line(e))
    if (++printed >= limit) {
      stop()
      break // events already read from the ring would still come
    }
  }
  clearTimeout(timer)
  if (dropped > 0) console.error(`${dropped} opens not reported: the ring buffer was full`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
