// xdp-proto-count end to end: packets sent from a network namespace through a veth pair are counted
// per protocol, exactly where the traffic is known; the tool detaches and the demo removes what it made.
import { execFile, execFileSync, spawn } from 'node:child_process'
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root, waitFor } from './helpers'

const PROTOCOLS = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'other'] as const
type Counts = Record<(typeof PROTOCOLS)[number] | 'total', { packets: number; bytes: number }>

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' })
}

function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const namespaces = (): string[] => ip('netns', 'list').split('\n').map((line) => line.split(' ')[0]).filter(Boolean)

/** Whether the kernel still has a program of xdp-proto-count (its name is count_protocols). */
function programLoaded(): boolean {
  return execFileSync('bpftool', ['prog', 'show'], { encoding: 'utf8' }).includes(' name count_protocols ')
}

/** `npm run xdp-proto-count -- …` in its own process group, as a terminal would run it. */
function runTool(args: string[]): { output: () => string; stdout: () => string; exited: Promise<number | null>; interrupt: () => void } {
  const child = spawn('npm', ['run', '--silent', 'xdp-proto-count', '--', ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { output: () => output, stdout: () => stdout, exited, interrupt: () => process.kill(-(child.pid as number), 'SIGINT') }
}

/** The last table the tool printed. */
function lastTable(output: string): Counts {
  const table = output.trim().split('\n\n').at(-1) as string
  const counts = {} as Counts
  for (const line of table.split('\n')) {
    const row = /^(\w+) +(\d+) +(\d+)$/.exec(line)
    if (row) counts[row[1] as keyof Counts] = { packets: Number(row[2]), bytes: Number(row[3]) }
  }
  expect(Object.keys(counts)).toEqual([...PROTOCOLS, 'total'])
  return counts
}

/** Sent from inside the namespace: `count` UDP datagrams of `size` bytes to each address, then one TCP connection to each. */
const SENDER = `
const dgram = require('node:dgram'), net = require('node:net')
const [targets, port, tcpPort] = [JSON.parse(process.argv[1]), Number(process.argv[2]), Number(process.argv[3])]
async function main() {
  for (const { address, type, count, size } of targets) {
    const socket = dgram.createSocket(type)
    for (let i = 0; i < count; i++) {
      await new Promise((resolve, reject) => socket.send(Buffer.alloc(size, 0x62), port, address, (e) => (e ? reject(e) : resolve())))
    }
    socket.close()
  }
  for (const { address } of targets) {
    await new Promise((resolve, reject) => net.connect(tcpPort, address).on('error', reject).on('close', resolve).resume())
  }
}
main().catch((e) => { console.error(e.message); process.exit(1) })
`

async function sendUdp(address: string, type: 'udp4' | 'udp6', port: number, count: number, size: number): Promise<void> {
  const socket = dgram.createSocket(type)
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => socket.send(Buffer.alloc(size, 0x62), port, address, (e) => (e ? reject(e) : resolve())))
    }
  } finally {
    socket.close()
  }
}

describe('xdp-proto-count', () => {
  // This test's own pair; the demo makes its own with the tool's pid.
  const namespace = `bpfkit-test-xdp-${process.pid}`
  const host = `bkxdp${process.pid}h`
  const peer = `bkxdp${process.pid}n`
  const slot = process.pid % 16384
  const host4 = `198.19.${slot >> 6}.${(slot & 63) * 4 + 1}`
  const peer4 = `198.19.${slot >> 6}.${(slot & 63) * 4 + 2}`
  const host6 = `fd62:7066:7465:${(process.pid & 0xffff).toString(16)}::1`
  const peer6 = `fd62:7066:7465:${(process.pid & 0xffff).toString(16)}::2`
  const closedPort = 9
  let server: net.Server
  let tcpPort: number

  beforeAll(async () => {
    ip('netns', 'add', namespace)
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', namespace)
    ip('addr', 'add', `${host4}/30`, 'dev', host)
    ip('-6', 'addr', 'add', `${host6}/64`, 'dev', host, 'nodad')
    ip('link', 'set', host, 'up')
    ip('-n', namespace, 'addr', 'add', `${peer4}/30`, 'dev', peer)
    ip('-n', namespace, '-6', 'addr', 'add', `${peer6}/64`, 'dev', peer, 'nodad')
    ip('-n', namespace, 'link', 'set', peer, 'up')
    // Every datagram to a closed port gets its ICMP error: exact counts.
    execFileSync('ip', ['netns', 'exec', namespace, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0'])
    server = net.createServer((socket) => socket.end()).listen(0, '::')
    await new Promise((resolve) => server.once('listening', resolve))
    tcpPort = (server.address() as net.AddressInfo).port
  })

  afterAll(() => {
    server?.close()
    if (linkExists(host)) ip('link', 'del', host)
    if (namespaces().includes(namespace)) ip('netns', 'del', namespace)
    expect(linkExists(host)).toBe(false)
    expect(namespaces()).not.toContain(namespace)
  })

  /** From the namespace: UDP datagrams to the host end and a TCP connection over IPv4 and IPv6. */
  async function sendFromNamespace(udp4: number, udp6: number, size: number): Promise<void> {
    const targets = [{ address: host4, type: 'udp4', count: udp4, size }, { address: host6, type: 'udp6', count: udp6, size }]
    // Asynchronously: this process's server has to answer the connections.
    await promisify(execFile)('ip', ['netns', 'exec', namespace, process.execPath, '-e', SENDER, JSON.stringify(targets), String(closedPort), String(tcpPort)])
  }

  it('counts the UDP datagrams and ICMP errors from the namespace exactly, by protocol, then detaches after --count intervals', async () => {
    const tool = runTool([host, '--mode', 'skb', '--interval', '250', '--count', '24'])
    await waitFor(() => tool.output().includes(`Counting packets received on ${host} (skb mode)`), 20_000, 'the tool to attach')
    expect(ip('link', 'show', host)).toContain('prog/xdp')

    await sendFromNamespace(7, 4, 100)
    // The namespace answers each of these with an ICMP (or ICMPv6) port unreachable, which the host end receives.
    await sendUdp(peer4, 'udp4', closedPort, 5, 100)
    await sendUdp(peer6, 'udp6', closedPort, 3, 100)

    expect(await tool.exited).toBe(0)
    const counts = lastTable(tool.stdout())
    // Whole frames: Ethernet 14 + IPv4 20 or IPv6 40 + UDP 8 + 100 bytes of payload.
    expect(counts.UDP).toEqual({ packets: 11, bytes: 7 * (14 + 20 + 8 + 100) + 4 * (14 + 40 + 8 + 100) })
    // Ethernet + IPv4 + ICMP header + the datagram it answers (IPv4 + UDP + payload).
    expect(counts.ICMP).toEqual({ packets: 5, bytes: 5 * (14 + 20 + 8 + 20 + 8 + 100) })
    // Also neighbour discovery and MLD (through a hop-by-hop header): at least the three errors.
    expect(counts.ICMPv6.packets).toBeGreaterThanOrEqual(3)
    // At least SYN and ACK per connection.
    expect(counts.TCP.packets).toBeGreaterThanOrEqual(4)
    expect(counts.other.packets).toBeGreaterThanOrEqual(1) // ARP
    expect(counts.total.packets).toBe(PROTOCOLS.reduce((sum, p) => sum + counts[p].packets, 0))
    expect(counts.total.bytes).toBe(PROTOCOLS.reduce((sum, p) => sum + counts[p].bytes, 0))
    expect(tool.stdout().match(/\nPROTO +PACKETS +BYTES\n/g)).toHaveLength(24)

    expect(ip('link', 'show', host)).not.toContain('prog/xdp')
    await waitFor(() => !programLoaded(), 5000, 'the program to leave the kernel')
  })

  it('--json prints one object per interval with the running totals, and Ctrl-C detaches', async () => {
    const tool = runTool([host, '--json', '--interval', '200'])
    await waitFor(() => tool.stdout().includes('\n'), 20_000, 'the first interval')
    expect(ip('link', 'show', host)).toContain('prog/xdp')
    await sendFromNamespace(3, 2, 10)
    const records = (): Array<Record<string, { packets: number; bytes: number }> & { time: string; interface: string }> =>
      tool.stdout().trim().split('\n').map((line) => JSON.parse(line))
    await waitFor(() => records().at(-1)?.udp.packets === 5, 10_000, 'the five datagrams in a record')
    tool.interrupt()
    expect(await tool.exited).toBe(0)

    const all = records()
    expect(all.length).toBeGreaterThan(1)
    for (const record of all) {
      expect(Object.keys(record)).toEqual(['time', 'interface', 'tcp', 'udp', 'icmp', 'icmpv6', 'other'])
      expect(record.interface).toBe(host)
      expect(Number.isNaN(Date.parse(record.time))).toBe(false)
    }
    // Totals since attach: they only grow.
    for (let i = 1; i < all.length; i++) expect(all[i].udp.packets).toBeGreaterThanOrEqual(all[i - 1].udp.packets)
    expect(all.at(-1)?.udp).toEqual({ packets: 5, bytes: 3 * (14 + 20 + 8 + 10) + 2 * (14 + 40 + 8 + 10) })
    expect(all.at(-1)?.icmp.packets).toBe(0)
    expect(ip('link', 'show', host)).not.toContain('prog/xdp')
  })

  it('--demo makes a veth pair into a new namespace, counts the traffic it sends, prints it and removes both', async () => {
    const tool = runTool(['--demo', '--interval', '300'])
    expect(await tool.exited).toBe(0)
    const output = tool.output()
    const ns = /created network namespace (bpfkit-demo-\d+)/.exec(output)?.[1] as string
    const veth = /created veth pair (\S+) /.exec(output)?.[1] as string
    expect(ns).toBeDefined()
    expect(veth).toBeDefined()
    const counts = lastTable(tool.stdout())
    expect(counts.UDP.packets).toBe(10) // 5 over IPv4, 5 over IPv6
    expect(counts.ICMP.packets).toBe(3)
    expect(counts.ICMPv6.packets).toBeGreaterThanOrEqual(3)
    expect(counts.TCP.packets).toBeGreaterThanOrEqual(2)
    expect(output).toContain(`removed veth pair ${veth}`)
    expect(output).toContain(`removed network namespace ${ns}`)
    expect(namespaces()).not.toContain(ns)
    expect(linkExists(veth)).toBe(false)
    await waitFor(() => !programLoaded(), 5000, 'the program to leave the kernel')
  })

  it('--demo removes its namespace and veth pair on Ctrl-C', async () => {
    const tool = runTool(['--demo', '--interval', '10000'])
    await waitFor(() => tool.output().includes('Counting packets received on'), 20_000, 'the demo to attach')
    const ns = /created network namespace (bpfkit-demo-\d+)/.exec(tool.output())?.[1] as string
    const veth = /created veth pair (\S+) /.exec(tool.output())?.[1] as string
    expect(namespaces()).toContain(ns)
    expect(ip('link', 'show', veth)).toContain('prog/xdp')
    tool.interrupt()
    expect(await tool.exited).toBe(0)
    expect(namespaces()).not.toContain(ns)
    expect(linkExists(veth)).toBe(false)
    await waitFor(() => !programLoaded(), 5000, 'the program to leave the kernel')
  })

  it('--demo removes its namespace and veth pair when attaching fails (no hardware offload on veth)', async () => {
    const tool = runTool(['--demo', '--mode', 'hw'])
    expect(await tool.exited).toBe(1)
    const output = tool.output()
    expect(output).toContain("bpf_link_create: program 'count_protocols'")
    const ns = /created network namespace (bpfkit-demo-\d+)/.exec(output)?.[1] as string
    const veth = /created veth pair (\S+) /.exec(output)?.[1] as string
    expect(output).toContain(`removed veth pair ${veth}`)
    expect(output).toContain(`removed network namespace ${ns}`)
    expect(namespaces()).not.toContain(ns)
    expect(linkExists(veth)).toBe(false)
  })
})
