// `bpfkit serve` for real: a Prometheus server (Debian's package) scrapes the daemon every second while
// known workloads run (execs, syscalls, direct I/O to a loop device, TCP connections), and the counts
// it stores match them exactly — across a reload, a bad config and a restart with --pin-dir and
// --drop-caps. Configs that do not fit fail with one line naming file:line and field.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root, waitFor } from './helpers'

const cli = path.join(root, 'dist/cli/index.js')
const examples = path.join(root, 'examples/daemon')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-serve-'))
const pinDir = `/sys/fs/bpf/bpfkit-serve-test-${process.pid}`
const names = { exec: `bpfkit-ex-${process.pid}`, reload: `bpfkit-rl-${process.pid}`, sys: `bpfkit-sc-${process.pid}` }
const comm = (name: string): string => name.slice(0, 15)
// Prometheus and promtool are Go programs: they get no AddressSanitizer preload (npm run test:asan).
const { LD_PRELOAD: _preload, ...goEnv } = process.env

interface Daemon {
  child: ChildProcess
  logs: Array<Record<string, any>>
  exited: Promise<number | null>
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

// Daemons still running when the file ends (a test failed before stopping its own) are killed then.
const running = new Set<ChildProcess>()
afterAll(() => {
  for (const child of running) child.kill('SIGKILL')
})

/** Starts `bpfkit serve` and waits for its 'serving' log line. */
async function startDaemon(args: string[]): Promise<Daemon> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  child.once('exit', () => running.delete(child))
  const logs: Array<Record<string, any>> = []
  let rest = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    rest += chunk.toString()
    const lines = rest.split('\n')
    rest = lines.pop()!
    for (const line of lines) logs.push(line.startsWith('{') ? JSON.parse(line) : { msg: line })
  })
  child.stdout!.resume()
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await waitFor(() => logs.some((l) => l.msg === 'serving') || child.exitCode !== null, 20_000, 'the daemon to serve')
  if (child.exitCode !== null) throw new Error(`the daemon exited: ${logs.map((l) => JSON.stringify(l)).join('\n')}`)
  return { child, logs, exited }
}

let prometheus: ChildProcess
let promPort: number
let daemonPort: number
let daemon: Daemon
let loop: string
const tcpPort = 20000 + (process.pid % 20000)
const config = path.join(tmp, 'serve.yaml')

function writeConfig(port: number): void {
  fs.writeFileSync(config, `include:
  - ${examples}/biolatency.yaml
  - ${examples}/syscalls.yaml
  - ${examples}/runqlat.yaml
programs:
  - name: tcpstates
    object: ${examples}/tcpstates.bpf.o
    rodata: { port: ${port} }
    metrics:
      counters:
        - { name: tcp_state_transitions_total, map: transitions }
  - name: execs
    object: ${examples}/execs.bpf.o
    metrics:
      counters:
        - { name: execs_total, help: Execs, map: execs }
    events:
      - { map: events, output: execs.ndjson, maxBytes: 2048, keep: 50 }
`)
}

async function query(promql: string): Promise<number | undefined> {
  const response = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`)
  const body = await response.json() as { data: { result: Array<{ value: [number, string] }> } }
  const first = body.data.result[0]
  return first === undefined ? undefined : Number(first.value[1])
}

/** Waits until Prometheus answers `promql` with `expected` (it scrapes every second). */
async function expectQuery(promql: string, expected: number | ((value: number) => boolean)): Promise<number> {
  const deadline = Date.now() + 20_000
  let last: number | undefined
  for (;;) {
    last = await query(promql)
    if (last !== undefined && (typeof expected === 'number' ? last === expected : expected(last))) return last
    if (Date.now() > deadline) throw new Error(`${promql}: ${last}, expected ${expected}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${daemonPort}/metrics`)).text()
}

function run(file: string, times: number): void {
  for (let i = 0; i < times; i++) execFileSync(file)
}

/** The BPF programs and links process `pid` holds, from its /proc fdinfo. */
function heldBy(pid: number): { progs: number[]; links: number[] } {
  const held = { progs: [] as number[], links: [] as number[] }
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
    const link = /^link_id:\s+(\d+)/m.exec(info)
    const prog = /^prog_id:\s+(\d+)/m.exec(info)
    if (link) held.links.push(Number(link[1]))
    else if (prog) held.progs.push(Number(prog[1]))
  }
  return held
}

describe('bpfkit serve with Prometheus', () => {
  beforeAll(async () => {
    fs.copyFileSync('/bin/true', path.join(tmp, names.exec))
    fs.copyFileSync('/bin/true', path.join(tmp, names.reload))
    fs.writeFileSync(path.join(tmp, 'sys.c'), '#include <stdlib.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n' +
      'int main(int argc, char **argv) { for (int i = atoi(argv[1]); i > 0; i--) syscall(SYS_getppid); return 0; }\n')
    execFileSync('cc', ['-O2', '-o', path.join(tmp, names.sys), path.join(tmp, 'sys.c')])
    fs.writeFileSync(path.join(tmp, 'disk'), Buffer.alloc(8 << 20))
    loop = execFileSync('losetup', ['--find', '--show', path.join(tmp, 'disk')], { encoding: 'utf8' }).trim()

    daemonPort = await freePort()
    promPort = await freePort()
    fs.writeFileSync(path.join(tmp, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: bpfkit
    static_configs: [{ targets: ['127.0.0.1:${daemonPort}'] }]
`)
    prometheus = spawn('prometheus', [`--config.file=${path.join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore', env: goEnv })
    writeConfig(tcpPort)
    daemon = await startDaemon([config, '--listen', `127.0.0.1:${daemonPort}`, '--pin-dir', pinDir])
    const ready = Date.now() + 20_000
    while (await fetch(`http://127.0.0.1:${promPort}/-/ready`).then((r) => r.status, () => 0) !== 200) {
      if (Date.now() > ready) throw new Error('prometheus did not start')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  })

  afterAll(async () => {
    daemon?.child.kill('SIGKILL')
    prometheus?.kill('SIGKILL')
    if (loop) spawnSync('losetup', ['-d', loop])
    fs.rmSync(pinDir, { recursive: true, force: true })
  })

  it('stores exactly the execs, syscalls, block I/O and TCP transitions the workload made', async () => {
    run(path.join(tmp, names.exec), 20)
    execFileSync(path.join(tmp, names.sys), ['1000'])
    execFileSync('dd', ['if=/dev/zero', `of=${loop}`, 'bs=4096', 'count=16', 'oflag=direct'], { stdio: 'ignore' })
    const server = net.createServer((socket) => socket.end()).listen(tcpPort, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    for (let i = 0; i < 5; i++) {
      const socket = net.connect(tcpPort, '127.0.0.1')
      await new Promise((resolve) => socket.once('close', resolve).resume())
    }
    server.close()
    const disk = path.basename(loop)
    await expectQuery(`execs_total{comm="${comm(names.exec)}"}`, 20)
    await expectQuery(`syscalls_total{comm="${comm(names.sys)}",syscall="getppid"}`, 1000)
    await expectQuery(`block_io_requests_total{disk="${disk}",op="write"}`, 16)
    await expectQuery(`block_io_bytes_total{disk="${disk}",op="write"}`, 16 * 4096)
    await expectQuery(`block_io_latency_seconds_count{disk="${disk}",op="write"}`, 16)
    await expectQuery(`block_io_latency_seconds_bucket{disk="${disk}",op="write",le="+Inf"}`, 16)
    await expectQuery(`block_io_latency_seconds_sum{disk="${disk}",op="write"}`, (v) => v > 0)
    // Client: SYN_SENT → ESTABLISHED; server: SYN_RECV → ESTABLISHED; family 2 is AF_INET.
    await expectQuery('tcp_state_transitions_total{family="2",old_state="2",new_state="1"}', 5)
    await expectQuery('tcp_state_transitions_total{family="2",old_state="3",new_state="1"}', 5)
    await expectQuery('runqueue_latency_seconds_count', (v) => v > 0)
  })

  it('serves an exposition promtool accepts, /healthz, the status page, and NDJSON events rotated by size', async () => {
    const text = await metricsText()
    expect(spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', env: goEnv })).toMatchObject({ status: 0, stdout: '', stderr: '' })
    const health = await fetch(`http://127.0.0.1:${daemonPort}/healthz`)
    expect([health.status, await health.text()]).toEqual([200, 'ok\n'])
    const page = await (await fetch(`http://127.0.0.1:${daemonPort}/`)).text()
    for (const expected of ['biolatency', 'tracepoint/block/block_rq_complete', 'raw_tp/sched_switch', 'io_latency', 'events']) {
      expect(page).toContain(expected)
    }
    expect((await fetch(`http://127.0.0.1:${daemonPort}/nope`)).status).toBe(404)
    const files = (): string[] => fs.readdirSync(tmp).filter((f) => f.startsWith('execs.ndjson'))
    // The sink drains at least every maxLatencyMs: the last events may still be on their way.
    const ours = (): Array<{ event: { comm: string } }> => files()
      .flatMap((f) => fs.readFileSync(path.join(tmp, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)))
      .filter((e) => e.event.comm === comm(names.exec))
    await waitFor(() => ours().length >= 20, 10_000, "the test's 20 exec events in the NDJSON files")
    expect(files().length).toBeGreaterThan(1)
    const events = ours()
    expect(events).toHaveLength(20)
    expect(events[0]).toMatchObject({ program: 'execs', map: 'events', event: { filename: path.join(tmp, names.exec), uid: 0 } })
    for (const f of files()) expect(fs.statSync(path.join(tmp, f)).size).toBeLessThanOrEqual(2048)
  })

  it('reloads on SIGHUP during a workload without losing a count; a bad config changes nothing', async () => {
    const execs = spawn('sh', ['-c', `for i in $(seq 150); do ${path.join(tmp, names.reload)}; done`], { stdio: 'ignore' })
    const done = new Promise((resolve) => execs.once('exit', resolve))
    await new Promise((resolve) => setTimeout(resolve, 100))
    writeConfig(tcpPort + 1)
    daemon.child.kill('SIGHUP')
    await waitFor(() => daemon.logs.some((l) => l.msg === 'config reloaded'), 10_000, 'the reload')
    expect(daemon.logs.find((l) => l.msg === 'config reloaded')).toMatchObject({
      kept: ['biolatency', 'syscalls', 'runqlat', 'execs'], swapped: ['tcpstates'], started: [], removed: [], failed: [],
    })
    await done
    await expectQuery(`execs_total{comm="${comm(names.reload)}"}`, 150)
    // The swapped program took its map over: the transitions counted before are still there.
    await expectQuery('tcp_state_transitions_total{family="2",old_state="2",new_state="1"}', 5)

    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('map: execs }', 'map: execz }'))
    daemon.child.kill('SIGHUP')
    await waitFor(() => daemon.logs.some((l) => l.msg?.startsWith('config refused')), 10_000, 'the refusal')
    expect(daemon.logs.find((l) => l.msg?.startsWith('config refused'))!.reason)
      .toBe(`${config}:16: programs[1].metrics.counters[0].map: no map 'execz' in execs.bpf.o (maps: execs)`)
    run(path.join(tmp, names.exec), 1)
    await expectQuery(`execs_total{comm="${comm(names.exec)}"}`, 21)
    expect((await fetch(`http://127.0.0.1:${daemonPort}/healthz`)).status).toBe(200)
    writeConfig(tcpPort + 1)
  })

  it('exits 0 within a second of SIGTERM, leaving no program, link or pin but the --pin-dir maps', async () => {
    const pid = daemon.child.pid!
    const held = heldBy(pid)
    expect(held.progs.length).toBe(8)
    expect(held.links.length).toBe(8)
    const start = Date.now()
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)
    expect(Date.now() - start).toBeLessThan(1000)
    const ids = (kind: string): number[] => (JSON.parse(execFileSync('bpftool', ['--json', kind, 'show'], { encoding: 'utf8' })) as Array<{ id: number }>).map((x) => x.id)
    expect(ids('prog').filter((id) => held.progs.includes(id))).toEqual([])
    expect(ids('link').filter((id) => held.links.includes(id))).toEqual([])
    const pins = execFileSync('find', [pinDir, '-mindepth', '1'], { encoding: 'utf8' }).trim().split('\n').sort()
    expect(pins).toEqual(['biolatency', 'biolatency/io_latency', 'biolatency/io_totals', 'execs', 'execs/execs', 'runqlat', 'runqlat/runq_latency',
      'syscalls', 'syscalls/syscalls', 'tcpstates', 'tcpstates/transitions'].map((p) => path.join(pinDir, p)))
  })

  it('restarts with --pin-dir and --drop-caps: counters carry on with no reset, scrapes work without root capabilities', async () => {
    daemon = await startDaemon([config, '--listen', `127.0.0.1:${daemonPort}`, '--pin-dir', pinDir, '--drop-caps'])
    const pid = daemon.child.pid!
    const dropped = daemon.logs.find((l) => l.msg === 'capabilities dropped')!
    expect(dropped).toMatchObject({ effective: ['CAP_PERFMON', 'CAP_BPF'], permitted: ['CAP_PERFMON', 'CAP_BPF'] })
    expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^CapEff:\s+000000c000000000$/m)
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      if (dropped.unreachable.includes(Number(tid))) continue
      expect(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')).toMatch(/^CapPrm:\s+000000c000000000$/m)
    }
    run(path.join(tmp, names.exec), 5)
    await expectQuery(`execs_total{comm="${comm(names.exec)}"}`, 26)
    await expectQuery(`resets(execs_total{comm="${comm(names.exec)}"}[5m])`, 0)
    await expectQuery(`resets(syscalls_total{comm="${comm(names.sys)}",syscall="getppid"}[5m])`, 0)
    await expectQuery(`syscalls_total{comm="${comm(names.sys)}",syscall="getppid"}`, 1000)
    await expectQuery('up{job="bpfkit"}', 1)
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)
  })
})

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

describe('bpfkit serve configs', () => {
  const bad = path.join(tmp, 'bad.yaml')
  const serve = (text: string) => {
    fs.writeFileSync(bad, text)
    return spawnSync(process.execPath, [cli, 'serve', bad, '--listen', '127.0.0.1:0'], { encoding: 'utf8' })
  }
  const program = (metrics: string) => `programs:\n  - name: execs\n    object: ${examples}/execs.bpf.o\n    metrics:\n${metrics}`

  it.each([
    ['an unknown map', program('      counters:\n        - name: execs_total\n          map: execz\n'),
      "7: programs[0].metrics.counters[0].map: no map 'execz' in execs.bpf.o (maps: execs)"],
    ['an unknown key field', program('      counters:\n        - name: execs_total\n          map: execs\n          labels: { pid: cpu }\n'),
      "8: programs[0].metrics.counters[0].labels.pid: struct exec_key has no field 'pid' (fields: comm)"],
    ['an unknown setting', program('      counters:\n        - name: execs_total\n          mapp: execs\n'),
      "7: programs[0].metrics.counters[0]: unknown field 'mapp' (fields: name, help, labels, value, map)"],
    ['a wrong bucket setting', program('      histograms:\n        - name: h\n          map: execs\n          bucketType: exp3\n'),
      '8: programs[0].metrics.histograms[0].bucketType: Invalid option: expected one of "exp2"|"exp2zero"|"linear"|"fixed"'],
    ['a missing bucket setting', program('      histograms:\n        - name: h\n          map: execs\n          bucketType: exp2\n          slot: comm\n'),
      "9: programs[0].metrics.histograms[0].slot: struct exec_key has no integer field 'comm' (integer fields: none)"],
    ['an include that cannot be read', 'include:\n  - nope.yaml\n', '2: include[0]: cannot read nope.yaml: ENOENT'],
    ['a YAML syntax error', 'programs:\n  - name: [execs\n', '3: YAML: '],
    ["a metric named as one of the daemon's own", program('      counters:\n        - name: bpfkit_program_up\n          map: execs\n'),
      "6: programs[0].metrics.counters[0].name: metric 'bpfkit_program_up' is already defined by bpfkit serve itself"],
    ['a misspelt decoder setting', program('      counters:\n        - name: execs_total\n          map: execs\n          labels: { comm: { decoders: [{ name: regexp, match: ^s, replce: S }] } }\n'),
      "8: programs[0].metrics.counters[0].labels.comm.decoders[0]: unknown option 'replce' (options: match, replace)"],
    ['a wrong rodata value', `programs:\n  - name: tcp\n    object: ${examples}/tcpstates.bpf.o\n    rodata: { port: abc }\n`,
      '4: programs[0].rodata.port: expected a number'],
  ])('refuses %s with one line naming file:line and field, and exits 1', (_what, text, expected) => {
    const result = serve(text)
    expect(result.status).toBe(1)
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1)
    expect(result.stderr).toContain(`bpfkit serve: ${bad}:${expected}`)
  })

  it('refuses a --pin-dir that is not on bpffs before loading anything', () => {
    const result = spawnSync(process.execPath, [cli, 'serve', path.join(examples, 'execs.yaml'), '--listen', '127.0.0.1:0', '--pin-dir', tmp],
      { encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stderr).toBe(`bpfkit serve: --pin-dir ${tmp} is not on a bpffs mount (pins live on bpffs: use a directory under /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf if it is not mounted))\n`)
  })

  it('answers a request whose path is not a URL with 400, and goes on serving; a sink makes its directory', async () => {
    const file = path.join(tmp, 'sink.yaml')
    fs.writeFileSync(file, `programs:\n  - name: execs\n    object: ${examples}/execs.bpf.o\n    events: [{ map: events, output: new-dir/execs.ndjson }]\n`)
    const served = await startDaemon([file, '--listen', '127.0.0.1:0'])
    expect(fs.existsSync(path.join(tmp, 'new-dir/execs.ndjson'))).toBe(true)
    const port = served.logs.find((l) => l.msg === 'listening')!.port as number
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'))
      let text = ''
      socket.on('data', (chunk) => { text += chunk.toString() })
      socket.on('end', () => resolve(text))
      socket.on('error', reject)
    })
    expect(reply).toMatch(/^HTTP\/1\.1 400 /)
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    served.child.kill('SIGTERM')
    expect(await served.exited).toBe(0)
  })

  it('a version that fails to start on reload leaves the pins of the running one', async () => {
    const dir = `${pinDir}-failed`
    const file = path.join(tmp, 'reload.yaml')
    const write = (object: string, labels = ''): void => fs.writeFileSync(file,
      `programs:\n  - name: execs\n    object: ${object}\n    metrics:\n      counters: [{ name: execs_total, map: execs${labels} }]\n`)
    const pinned = (): { id: number; bytes_key: number } => JSON.parse(execFileSync('bpftool', ['--json', 'map', 'show', 'pinned', `${dir}/execs/execs`], { encoding: 'utf8' }))
    write(path.join(examples, 'execs.bpf.o'))
    try {
      const served = await startDaemon([file, '--listen', '127.0.0.1:0', '--pin-dir', dir])
      const running = pinned()
      expect(running.bytes_key).toBe(16)
      write(path.join(root, 'test/fixtures/serve-fail.bpf.o'), ', labels: { key: id }')
      served.child.kill('SIGHUP')
      await waitFor(() => served.logs.some((l) => l.msg === 'config reloaded'), 10_000, 'the reload')
      expect(served.logs.find((l) => l.msg === 'config reloaded')).toMatchObject({ failed: ['execs'] })
      expect(served.logs.find((l) => l.msg === 'pinned map no longer matches: a new one replaces it once this version runs')).toMatchObject({ differences: expect.arrayContaining(['key size 16, not 4']) })
      expect(pinned()).toMatchObject({ id: running.id, bytes_key: 16 })
      served.child.kill('SIGTERM')
      expect(await served.exited).toBe(0)
      expect(pinned()).toMatchObject({ id: running.id })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("pins a map that its object declares with `pinning` under --pin-dir only, not also at libbpf's /sys/fs/bpf/NAME", async () => {
    const dir = `${pinDir}-by-name`
    const file = path.join(tmp, 'by-name.yaml')
    fs.writeFileSync(file, `programs:\n  - name: tally\n    object: ${root}/test/fixtures/pinned-v1.bpf.o\n` +
      '    metrics:\n      counters: [{ name: tallies_total, map: tallies, value: count, labels: { key: slot } }]\n')
    const existed = fs.existsSync('/sys/fs/bpf/tallies')
    try {
      const served = await startDaemon([file, '--listen', '127.0.0.1:0', '--pin-dir', dir])
      expect(fs.existsSync(`${dir}/tally/tallies`)).toBe(true)
      expect(fs.readdirSync(`${dir}/tally`)).toEqual(['tallies'])
      if (!existed) expect(fs.existsSync('/sys/fs/bpf/tallies')).toBe(false)
      served.child.kill('SIGTERM')
      expect(await served.exited).toBe(0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('recreates a pinned map whose layout changed, and says so', async () => {
    const dir = `${pinDir}-stale`
    fs.mkdirSync(`${dir}/execs`, { recursive: true })
    const other = spawnSync(process.execPath, ['-e', `
      const { BpfObject } = require(${JSON.stringify(root)})
      const obj = BpfObject.open(${JSON.stringify(path.join(root, 'test/fixtures/metrics.bpf.o'))})
      obj.load().then(() => { obj.map('latency').pin('${dir}/execs/execs'); obj.close() })`], { encoding: 'utf8' })
    expect(other.stderr).toBe('')
    try {
      const stale = await startDaemon([path.join(examples, 'execs.yaml'), '--listen', '127.0.0.1:0', '--pin-dir', dir])
      expect(stale.logs.find((l) => l.msg === 'pinned map no longer matches: a new one replaces it once this version runs')).toMatchObject({
        program: 'execs', map: 'execs', differences: expect.arrayContaining(['key size 8, not 16']),
      })
      stale.child.kill('SIGTERM')
      expect(await stale.exited).toBe(0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('runs a shipped config: execs.yaml counts execs and writes each as NDJSON to stdout, with libbpf in the log', async () => {
    const shipped = await startDaemon([path.join(examples, 'execs.yaml'), '--listen', '127.0.0.1:0', '--log-level', 'debug'])
    expect(shipped.logs.find((l) => l.source === 'libbpf' && /^libbpf: loading object 'execs'/.test(l.msg))).toMatchObject({ level: 'debug', program: 'execs' })
    const lines: string[] = []
    shipped.child.stdout!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)))
    const port = shipped.logs.find((l) => l.msg === 'listening')!.port
    run(path.join(tmp, names.exec), 3)
    await waitFor(() => lines.filter((l) => l.includes(`"comm":"${comm(names.exec)}"`)).length === 3, 5000, 'three events')
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(text).toContain(`execs_total{comm="${comm(names.exec)}"} 3\n`)
    shipped.child.kill('SIGINT')
    expect(await shipped.exited).toBe(0)
  })
})
