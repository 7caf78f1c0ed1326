// xdp-proto-count: counts the packets an interface receives per protocol (an XDP program with per-CPU
// counters) and prints the totals every interval until Ctrl-C.
//   npm run xdp-proto-count -- <ifname> [--mode skb|drv|hw] [--interval MS] [--count N] [--json]   (as root)
//   npm run xdp-proto-count -- --demo     the same on a veth pair into a fresh network namespace, with traffic
import { execFile } from 'node:child_process'
import * as dgram from 'node:dgram'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs, promisify } from 'node:util'
import type { XdpMode } from 'bpfkit'
import { open, type Loaded } from './xdp-proto-count.skel'

const run = promisify(execFile)

const USAGE = `usage: xdp-proto-count <ifname> [--mode skb|drv|hw] [--interval MS] [--count N] [--json]
       xdp-proto-count --demo [--mode skb|drv] [--interval MS] [--json]
  --mode M      XDP mode: skb (generic, any interface), drv (in the driver), hw (offloaded); default: the kernel's choice
  --interval MS print the totals every MS milliseconds (default 1000)
  --count N     stop after N intervals
  --json        one JSON object per interval instead of a table
  --demo        create a veth pair with one end in a new network namespace, count on the host end while
                traffic goes through it, print the totals, then remove both`

/** The table's rows: a label and the map key, `enum proto_kind` of xdp-proto-count.bpf.c. */
const PROTOCOLS = [
  ['TCP', 0],
  ['UDP', 1],
  ['ICMP', 2],
  ['ICMPv6', 3],
  ['other', 4],
] as const

type Label = (typeof PROTOCOLS)[number][0]
type Totals = Record<Label, { packets: bigint; bytes: bigint }>

interface CountOptions {
  mode?: XdpMode
  interval: number
  rounds: number
  json: boolean
}

/** The counters summed over CPUs (a per-CPU map returns one value per possible CPU). */
function totals(skel: Loaded): Totals {
  const result = {} as Totals
  for (const [label, kind] of PROTOCOLS) {
    const perCpu = skel.maps.counts.get(kind) ?? []
    result[label] = {
      packets: perCpu.reduce((sum, c) => sum + c.packets, 0n),
      bytes: perCpu.reduce((sum, c) => sum + c.bytes, 0n),
    }
  }
  return result
}

function print(iface: string, counts: Totals, json: boolean): void {
  if (json) {
    const record: Record<string, unknown> = { time: new Date().toISOString(), interface: iface }
    for (const [label] of PROTOCOLS) {
      record[label.toLowerCase()] = { packets: Number(counts[label].packets), bytes: Number(counts[label].bytes) }
    }
    console.log(JSON.stringify(record))
    return
  }
  const row = (label: string, packets: bigint, bytes: bigint): string =>
    `${label.padEnd(8)}${String(packets).padStart(12)}${String(bytes).padStart(14)}`
  const lines = [`\n${new Date().toLocaleTimeString()}  ${iface}`, `${'PROTO'.padEnd(8)}${'PACKETS'.padStart(12)}${'BYTES'.padStart(14)}`]
  let packets = 0n
  let bytes = 0n
  for (const [label] of PROTOCOLS) {
    lines.push(row(label, counts[label].packets, counts[label].bytes))
    packets += counts[label].packets
    bytes += counts[label].bytes
  }
  lines.push(row('total', packets, bytes))
  console.log(lines.join('\n'))
}

/**
 * Attaches to `iface` and prints the totals every interval until `signal` aborts or `options.rounds`
 * intervals have passed; with `traffic` (the demo's), also once it has finished and one more interval
 * has passed. The program is detached on the way out, whatever the reason.
 */
async function count(iface: string, options: CountOptions, signal: AbortSignal, traffic?: (signal: AbortSignal) => Promise<void>): Promise<void> {
  await using skel = await open().load()
  skel.progs.count_protocols.attachXdp(iface, { mode: options.mode }) // the link closes with skel
  const status = options.json ? console.error : console.log
  status(`Counting packets received on ${iface}${options.mode ? ` (${options.mode} mode)` : ''}… Ctrl-C to stop.`)

  const stopTraffic = new AbortController()
  const trafficSignal = AbortSignal.any([signal, stopTraffic.signal])
  let done = false
  let failure: { error: unknown } | undefined
  const sending = traffic?.(trafficSignal).then(
    () => void (done = true),
    (error: unknown) => void (trafficSignal.aborted || (failure = { error })),
  )
  try {
    for (let round = 0; round < options.rounds; round++) {
      const last = done
      // The traffic settling wakes the loop early: a failure ends it, a success starts the last interval.
      const wake = sending !== undefined && !last ? [sending] : []
      await Promise.race([sleep(options.interval, undefined, { signal }).catch(() => undefined), ...wake])
      if (signal.aborted || failure !== undefined) break
      print(iface, totals(skel), options.json)
      if (last) break
    }
  } finally {
    stopTraffic.abort()
    await sending
  }
  if (failure !== undefined) throw failure.error
}

/** The demo's names and addresses, unique per process (interface names have at most 15 bytes). */
function demoNetwork(pid: number): { namespace: string; host: string; peer: string; host4: string; peer4: string; host6: string; peer6: string } {
  // 198.18.0.0/16 is reserved for benchmarking (RFC 2544): a /30 per pid; fd62:7066:: is a ULA prefix.
  const slot = pid % 16384
  const net4 = `198.18.${slot >> 6}`
  const last = (slot & 63) * 4
  const net6 = `fd62:7066:${(pid >> 16).toString(16)}:${(pid & 0xffff).toString(16)}`
  return {
    namespace: `bpfkit-demo-${pid}`,
    host: `bkdemo${pid}h`,
    peer: `bkdemo${pid}n`,
    host4: `${net4}.${last + 1}`,
    peer4: `${net4}.${last + 2}`,
    host6: `${net6}::1`,
    peer6: `${net6}::2`,
  }
}

type DemoNetwork = ReturnType<typeof demoNetwork>

async function ip(...args: string[]): Promise<void> {
  await run('ip', args)
}

async function createDemoNetwork(n: DemoNetwork, log: (line: string) => void): Promise<void> {
  await ip('netns', 'add', n.namespace)
  log(`created network namespace ${n.namespace}`)
  await ip('link', 'add', n.host, 'type', 'veth', 'peer', 'name', n.peer, 'netns', n.namespace)
  log(`created veth pair ${n.host} (here) <-> ${n.peer} (in ${n.namespace})`)
  await ip('addr', 'add', `${n.host4}/30`, 'dev', n.host)
  await ip('-6', 'addr', 'add', `${n.host6}/64`, 'dev', n.host, 'nodad')
  await ip('link', 'set', n.host, 'up')
  const inside = (...args: string[]): Promise<void> => ip('netns', 'exec', n.namespace, 'ip', ...args)
  await inside('addr', 'add', `${n.peer4}/30`, 'dev', n.peer)
  await inside('-6', 'addr', 'add', `${n.peer6}/64`, 'dev', n.peer, 'nodad')
  await inside('link', 'set', n.peer, 'up')
  await inside('link', 'set', 'lo', 'up')
}

/** Removes what createDemoNetwork made, as far as it got; each step on its own so one failure does not stop the rest. */
async function removeDemoNetwork(n: DemoNetwork, log: (line: string) => void): Promise<void> {
  // Deleting one end of a veth pair deletes both.
  for (const [args, what] of [[['link', 'del', n.host], `veth pair ${n.host}`], [['netns', 'del', n.namespace], `network namespace ${n.namespace}`]] as const) {
    try {
      await ip(...args)
      log(`removed ${what}`)
    } catch (error) {
      if (!/Cannot find device|No such file or directory/.test(String((error as { stderr?: string }).stderr))) {
        console.error(`could not remove ${what}: ${(error as Error).message}`)
      }
    }
  }
}

/** Sent from inside the namespace (node -e): UDP datagrams and a TCP connection attempt to each host address. */
const INSIDE = `
const dgram = require('node:dgram'), net = require('node:net')
const [host4, host6, datagrams, port] = process.argv.slice(1)
async function main() {
  for (const [address, type] of [[host4, 'udp4'], [host6, 'udp6']]) {
    const socket = dgram.createSocket(type)
    for (let i = 0; i < Number(datagrams); i++) {
      await new Promise((resolve, reject) => socket.send('bpfkit demo', Number(port), address, (e) => (e ? reject(e) : resolve())))
    }
    socket.close()
  }
  for (const address of [host4, host6]) {
    const socket = net.connect(Number(port), address).setTimeout(2000) // a firewall may drop the SYN
    await new Promise((resolve) => socket.on('error', resolve).on('timeout', resolve).on('connect', resolve))
    socket.destroy()
  }
}
main().catch((e) => { console.error(e.message); process.exit(1) })
`

async function sendDemoTraffic(n: DemoNetwork, signal: AbortSignal, log: (line: string) => void): Promise<void> {
  const datagrams = 5
  const probes = 3
  const port = 9 // discard: nothing listens, so TCP gets a reset and the namespace answers UDP with ICMP
  log(`from ${n.namespace}: ${datagrams} UDP datagrams and 1 TCP connection attempt to ${n.host4} and to ${n.host6}`)
  await run('ip', ['netns', 'exec', n.namespace, process.execPath, '-e', INSIDE, n.host4, n.host6, String(datagrams), String(port)], { signal })
  // XDP sees what the host end receives: the namespace's ICMP errors for datagrams sent to a closed port there.
  log(`to ${n.namespace}: ${probes} UDP datagrams to a closed port of ${n.peer4} and of ${n.peer6}, answered with ICMP/ICMPv6 port unreachable`)
  for (const [address, type] of [[n.peer4, 'udp4'], [n.peer6, 'udp6']] as const) {
    const socket = dgram.createSocket(type)
    try {
      for (let i = 0; i < probes; i++) {
        signal.throwIfAborted()
        await new Promise<void>((resolve, reject) => socket.send('bpfkit demo', port, address, (e) => (e ? reject(e) : resolve())))
      }
    } finally {
      socket.close()
    }
  }
}

async function demo(options: CountOptions, signal: AbortSignal): Promise<void> {
  const network = demoNetwork(process.pid)
  const log = options.json ? (line: string) => console.error(line) : (line: string) => console.log(line)
  try {
    await createDemoNetwork(network, log)
    if (!signal.aborted) await count(network.host, options, signal, (trafficSignal) => sendDemoTraffic(network, trafficSignal, log))
  } finally {
    await removeDemoNetwork(network, log)
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      mode: { type: 'string' },
      interval: { type: 'string', default: '1000' },
      count: { type: 'string' },
      json: { type: 'boolean', default: false },
      demo: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const interval = Number(values.interval)
  const rounds = values.count === undefined ? Infinity : Number(values.count)
  if (values.mode !== undefined && !['skb', 'drv', 'hw'].includes(values.mode)) throw new Error(`--mode: skb, drv or hw, not '${values.mode}'`)
  if (!(interval > 0)) throw new Error(`--interval: a number of milliseconds, not '${values.interval}'`)
  if (!(rounds > 0)) throw new Error(`--count: a positive number, not '${values.count}'`)
  if (values.demo ? positionals.length !== 0 : positionals.length !== 1) throw new Error(USAGE)
  const options: CountOptions = { mode: values.mode as XdpMode | undefined, interval, rounds, json: values.json }

  // Ctrl-C reaches us more than once under npm (from the terminal and relayed by npm and tsx): aborting twice is harmless.
  const abort = new AbortController()
  const stop = (): void => abort.abort()
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  if (values.demo) await demo(options, abort.signal)
  else await count(positionals[0], options, abort.signal)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
