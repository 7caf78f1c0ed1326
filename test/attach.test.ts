// Every attach method on the real kernel: each test causes the hooked event and reads what the
// program recorded (test/fixtures/attach.bpf.c), then checks that nothing stays attached.
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import * as dgram from 'node:dgram'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BpfObject, Link, elfFunctions, features, resolveBinary, type BpfError } from 'bpfkit'
import { bpfFds, cgroup2Mount, fixture, hostile, libcIndirectFunctions, node, revoked, root, run, thrown, waitFor } from './helpers'

const GETPPID = process.arch === 'arm64' ? 173 : 110
const PORT = 9999

let obj: BpfObject
let dir: string
let target: string

/** A running copy of the uprobe target: `call(a, b)` makes it call add(a, b) once and resolves with the sum. */
class Target {
  readonly child: ChildProcessWithoutNullStreams
  #lines: string[] = []
  #waiters: Array<(line: string) => void> = []

  constructor(binary: string) {
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] })
    let buffer = ''
    this.child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      let newline: number
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        const waiter = this.#waiters.shift()
        if (waiter) waiter(line)
        else this.#lines.push(line)
      }
    })
  }

  next(): Promise<string> {
    const line = this.#lines.shift()
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => this.#waiters.push(resolve))
  }

  async call(a: number, b: number): Promise<number> {
    this.child.stdin.write(`${a} ${b}\n`)
    return Number(await this.next())
  }

  get pid(): number {
    return this.child.pid!
  }

  stop(): void {
    this.child.stdin.end()
  }
}

async function started(binary: string): Promise<Target> {
  const t = new Target(binary)
  expect(await t.next()).toBe('ready')
  return t
}

function bss(): Record<string, number | bigint> {
  return obj.bss as Record<string, number | bigint>
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-attach-'))
  target = path.join(dir, 'uprobe-target')
  // Without blocking the event loop: a compile under emulation can outlast vitest's 60 s for its own calls.
  const cc = await run('cc', ['-g', '-O1', '-o', target, fixture('uprobe-target.c')])
  if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`)
  obj = BpfObject.open(fixture('attach.bpf.o'))
  obj.rodata.target_pid = process.pid
  obj.rodata.target_syscall = GETPPID
  obj.rodata.udp_port = PORT
  await obj.load()
})

afterAll(async () => {
  await obj?.close()
  fs.rmSync(dir, { recursive: true, force: true })
  expect(bpfFds().links).toEqual([])
})

afterEach(() => {
  // A test that failed half-way must not leave its pins (and the programs they hold) to the next run.
  for (const name of fs.readdirSync('/sys/fs/bpf')) {
    if (name.startsWith('bpfkit-') && name.endsWith(`-${process.pid}`)) fs.rmSync(path.join('/sys/fs/bpf', name))
  }
  // Every test closes what it attached: no link of this process outlives it.
  expect(bpfFds().links).toEqual([])
})

describe('tracepoints', () => {
  it('attachTracepoint and attachRawTracepoint run on the syscall this process makes', () => {
    const before = { tp: bss().tracepoint_hits as bigint, raw: bss().raw_tracepoint_hits as bigint }
    const tp = obj.program('on_tracepoint').attachTracepoint('syscalls', 'sys_enter_getppid')
    const raw = obj.program('on_raw_tracepoint').attachRawTracepoint('sys_enter')
    expect(tp.target).toBe('tracepoint syscalls/sys_enter_getppid')
    expect(raw.info()).toMatchObject({ type: 'raw_tracepoint', programId: obj.program('on_raw_tracepoint').id })
    for (let i = 0; i < 7; i++) void process.ppid
    expect(bss().tracepoint_hits).toBe(before.tp + 7n)
    expect(bss().raw_tracepoint_hits).toBe(before.raw + 7n)
    tp.close()
    raw.close()
    void process.ppid
    expect(bss().tracepoint_hits).toBe(before.tp + 7n)
  })

  it('a missing tracepoint is ENOENT with a hint, before and after a bad category', () => {
    const error = thrown(() => obj.program('on_tracepoint').attachTracepoint('syscalls', 'sys_enter_nope'))
    expect(error).toMatchObject({ code: 'ENOENT', op: 'bpf_program__attach_tracepoint' })
    expect(error.hint).toMatch(/\/sys\/kernel\/tracing\/events/)
  })
})

describe('uprobes and USDT', () => {
  it('attachUprobe by symbol, limited to one pid, sees the arguments; the uretprobe sees the return value', async () => {
    const watched = await started(target)
    const other = await started(target)
    const entry = obj.program('on_uprobe').attachUprobe({ binary: target, symbol: 'add', pid: watched.pid, cookie: 0xfeedn })
    const exit = obj.program('on_uretprobe').attachUprobe({ binary: target, symbol: 'add', pid: watched.pid, retprobe: true })
    expect(entry.target).toBe(`uprobe ${target}:add (pid ${watched.pid})`)
    const hits = bss().uprobe_hits as bigint
    expect(await watched.call(20, 22)).toBe(42)
    expect(await other.call(100, 200)).toBe(300)
    expect(await watched.call(-5, 3)).toBe(-2)
    expect(bss().uprobe_hits).toBe(hits + 2n)
    expect(bss()).toMatchObject({ uprobe_a: -5, uprobe_b: 3, uretprobe_ret: -2, uprobe_pid: watched.pid, uprobe_cookie: 0xfeedn })
    entry.close()
    exit.close()
    watched.stop()
    other.stop()
  })

  it('attachUprobe by file offset works on a stripped copy of the binary', async () => {
    const add = elfFunctions(target).find((symbol) => symbol.name === 'add')!
    expect(add.table).toBe('symtab')
    const stripped = path.join(dir, 'uprobe-target-stripped')
    fs.copyFileSync(target, stripped)
    execFileSync('strip', [stripped])
    expect(elfFunctions(stripped).some((symbol) => symbol.name === 'add')).toBe(false)
    const link = obj.program('on_uprobe').attachUprobe({ binary: stripped, offset: add.fileOffset })
    const t = await started(stripped)
    expect(await t.call(7, 8)).toBe(15)
    expect(bss()).toMatchObject({ uprobe_a: 7, uprobe_b: 8, uprobe_pid: t.pid })
    t.stop()
    link.close()
  })

  it('a missing symbol lists the nearest names; a library name resolves like libbpf does', () => {
    const error = thrown(() => obj.program('on_uprobe').attachUprobe({ binary: target, symbol: 'addd' }))
    expect(error).toMatchObject({ code: 'ENOENT' })
    expect(error.message).toContain(`no function 'addd' in ${target}`)
    expect(error.hint).toMatch(/did you mean: .*\badd\b/)
    const libc = obj.program('on_uprobe').attachUprobe({ binary: 'libc.so.6', symbol: 'malloc', pid: process.pid })
    expect(libc.target).toMatch(/^uprobe \/.*libc\.so\.6:malloc \(pid \d+\)$/)
    libc.close()
    // func@LIB picks one version of a versioned symbol (libc has two pthread_cond_wait).
    const versions = ['pthread_cond_wait@GLIBC_2.2.5', 'pthread_cond_wait@GLIBC_2.3.2']
      .map((symbol) => obj.program('on_uprobe').attachUprobe({ binary: 'libc.so.6', symbol, pid: process.pid }))
    expect(versions.map((link) => link.target.split(':').pop())).toEqual(['pthread_cond_wait@GLIBC_2.2.5 (pid ' + process.pid + ')', 'pthread_cond_wait@GLIBC_2.3.2 (pid ' + process.pid + ')'])
    for (const link of versions) link.close()
    expect(thrown(() => obj.program('on_uprobe').attachUprobe({ binary: 'libnope.so.1', symbol: 'x' }))).toMatchObject({ code: 'ENOENT' })
    expect(thrown(() => obj.program('on_uprobe').attachUprobe({ binary: target }))).toMatchObject({ code: 'EINVAL' })
  })

  it('attach options are read once and checked by name and type, before any syscall; a SEC() for another call is named', () => {
    const uprobe = obj.program('on_uprobe')
    // A getter runs once: the uprobe lands where the first read said.
    let reads = 0
    const link = uprobe.attachUprobe({ binary: target, get symbol() { return ++reads === 1 ? 'add' : 'main' } })
    expect([reads, link.target]).toEqual([1, `uprobe ${target}:add`])
    link.close()
    const invalid = (fn: () => unknown, message: string | RegExp): BpfError => {
      const error = thrown(fn)
      expect(error).toMatchObject({ code: 'EINVAL' })
      expect(error.message).toMatch(message)
      return error
    }
    invalid(() => uprobe.attachUprobe({ binary: target, symbol: 'add', retProbe: true } as never), "unknown option 'retProbe'")
    invalid(() => uprobe.attachUprobe({ binary: target, symbol: 'add', retprobe: 1 as never }), 'retprobe must be true or false, got 1')
    invalid(() => obj.program('on_perf_event').attachPerfEvent({ type: 'software', config: 2n ** 64n, samplePeriod: 1000, cpu: 0 }), 'config must be')
    invalid(() => obj.program('on_xdp').attachXdp('lo', { mode: Object.create(null) }), 'mode must be')
    // A program whose SEC() is for another attach call: the kernel would say only EINVAL.
    const usdt = invalid(() => uprobe.attachUsdt({ binary: target, provider: 'bpfkit', name: 'added' }), 'attach it with attachUprobe()')
    expect(usdt.hint).toContain('SEC("usdt")')
    invalid(() => obj.program('on_usdt').attachUprobe({ binary: target, symbol: 'add' }), "is a usdt program (SEC(\"usdt\")): attach it with attachUsdt()")
    expect(invalid(() => uprobe.attachUprobeMulti({ binary: target, symbols: ['add'] }), 'attach it with attachUprobe()').hint).toContain('SEC("uprobe.multi")')
    invalid(() => obj.program('on_kprobe').attachKprobeMulti({ symbols: ['vfs_read'] }), 'attach it with attachUprobe(), attachKprobe() or attachKsyscall()')
    invalid(() => obj.program('on_tracepoint').attachFentry(), 'this method attaches tracing programs')
    invalid(() => obj.program('on_kprobe').attachLsm(), 'this method attaches lsm programs')
    // Objects that throw whatever is asked of them, in every attach call and what takes a program.
    const tracepoint = obj.program('on_tracepoint').attachTracepoint('syscalls', 'sys_enter_getppid')
    const calls: Array<[string, (value: never) => unknown]> = [
      ['attachUprobe', (o) => uprobe.attachUprobe(o)],
      ['attachUprobe (symbol)', (o) => uprobe.attachUprobe({ binary: target, symbol: o })],
      ['attachUsdt', (o) => obj.program('on_usdt').attachUsdt(o)],
      ['attachKprobe', (o) => obj.program('on_kprobe').attachKprobe(o)],
      ['attachKsyscall', (o) => obj.program('on_kprobe').attachKsyscall(o)],
      ['attachPerfEvent', (o) => obj.program('on_perf_event').attachPerfEvent(o)],
      ['attachXdp', (o) => obj.program('on_xdp').attachXdp('lo', o)],
      ['attachXdp (mode)', (o) => obj.program('on_xdp').attachXdp('lo', { mode: o })],
      ['attachTc', (o) => obj.program('on_tc_ingress').attachTc('lo', o)],
      ['attachCgroup', (o) => obj.program('on_connect4').attachCgroup('/sys/fs/cgroup', o)],
      ['attachIter', (o) => obj.program('on_tracepoint').attachIter(o)],
      ['link.update', (o) => tracepoint.update(o)],
      ['setAttachTarget', (o) => obj.program('on_tracepoint').setAttachTarget(o, 'f')],
      ['testRun (data)', (o) => obj.program('on_xdp').testRun({ data: o })],
      ['BpfObject.open', (o) => BpfObject.open(o)],
    ]
    for (const [what, call] of calls) {
      for (const value of [revoked(), hostile()]) expect(thrown(() => call(value)).code, what).toBe('EINVAL')
    }
    tracepoint.close()
  })

  it('a uprobe is refused on what is not an ELF file, and on a GNU indirect function, whose symbol is its resolver', (ctx) => {
    const uprobe = obj.program('on_uprobe')
    expect(thrown(() => uprobe.attachUprobe({ binary: fixture('attach.bpf.c'), symbol: 'add' }))).toMatchObject({ code: 'ENOEXEC' })
    const directory = thrown(() => uprobe.attachUprobe({ binary: dir, symbol: 'add' }))
    expect(directory).toMatchObject({ code: 'EISDIR' })
    expect(directory.hint).not.toMatch(/clang/)
    // A PATH entry that is a file, or that cannot be searched, is passed over.
    const saved = process.env.PATH
    process.env.PATH = `/etc/passwd:${saved}`
    try {
      expect(resolveBinary('sh')).toMatch(/\/sh$|\/dash$|\/bash$/)
    } finally {
      process.env.PATH = saved
    }
    // Their symbols are the resolvers; programs built today never call an older plain version's.
    const { libc, ifuncs } = libcIndirectFunctions()
    if (ifuncs.length === 0) ctx.skip(`${libc} has no GNU indirect functions`)
    for (const ifunc of ifuncs) {
      const error = thrown(() => uprobe.attachUprobe({ binary: 'libc.so.6', symbol: ifunc.name }))
      expect(error).toMatchObject({ code: 'EINVAL' })
      expect(error.message).toContain(`'${ifunc.name}' in ${libc} is a GNU indirect function (IFUNC)`)
    }
  })

  it('elfFunctions refuses what is not a sound ELF file with a BpfError', () => {
    const damaged = path.join(dir, 'damaged')
    const elf = fs.readFileSync(target)
    fs.writeFileSync(damaged, elf.subarray(0, 200))
    expect(thrown(() => elfFunctions(damaged))).toMatchObject({ code: 'ENOEXEC' })
    expect(thrown(() => elfFunctions(fixture('attach.bpf.c')))).toMatchObject({ code: 'ENOEXEC' })
    expect(thrown(() => elfFunctions(dir))).toMatchObject({ code: 'EISDIR' })
    expect(thrown(() => elfFunctions(path.join(dir, 'missing')))).toMatchObject({ code: 'ENOENT' })
  })

  it('attachUsdt fires on the sys/sdt.h probe with its arguments and cookie', async () => {
    const t = await started(target)
    const link = obj.program('on_usdt').attachUsdt({ binary: target, provider: 'bpfkit', name: 'added', pid: t.pid, cookie: 99n })
    // Several uprobes behind one libbpf link: no fd of its own to query or pin.
    expect(link.fd).toBe(-1)
    expect(link.info()).toBeNull()
    expect(thrown(() => link.pin('/sys/fs/bpf/bpfkit-usdt')).code).toBe('EOPNOTSUPP')
    const hits = bss().usdt_hits as bigint
    expect(await t.call(40, 2)).toBe(42)
    expect(await t.call(1000, 234)).toBe(1234)
    expect(bss()).toMatchObject({ usdt_hits: hits + 2n, usdt_x: 1000n, usdt_y: 1234n, usdt_cookie: 99n })
    link.close()
    expect(await t.call(1, 1)).toBe(2)
    expect(bss().usdt_hits).toBe(hits + 2n)
    t.stop()
  })
})

describe('networking', () => {
  const ns = `bpfkit-at-${process.pid}`
  const host = `bka${process.pid % 100000}`
  const peer = `bkb${process.pid % 100000}`

  const ip = (...args: string[]): string => execFileSync('ip', args).toString()
  const inNs = (script: string): void => {
    execFileSync('ip', ['netns', 'exec', ns, 'bash', '-c', script])
  }
  const sendFromNs = (count: number): void => inNs(`for i in $(seq ${count}); do echo x > /dev/udp/10.213.0.1/${PORT}; done`)
  const sendToNs = (count: number): void => {
    execFileSync('bash', ['-c', `for i in $(seq ${count}); do echo x > /dev/udp/10.213.0.2/${PORT}; done`])
  }

  beforeAll(() => {
    ip('netns', 'add', ns)
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer)
    ip('link', 'set', peer, 'netns', ns)
    ip('addr', 'add', '10.213.0.1/24', 'dev', host)
    ip('link', 'set', host, 'up')
    ip('-n', ns, 'addr', 'add', '10.213.0.2/24', 'dev', peer)
    ip('-n', ns, 'link', 'set', peer, 'up')
    sendFromNs(1) // resolves ARP both ways before anything counts
  })

  afterAll(() => {
    spawnSync('ip', ['link', 'del', host])
    spawnSync('ip', ['netns', 'del', ns])
    expect(ip('netns', 'list')).not.toContain(ns)
    expect(spawnSync('ip', ['link', 'show', host]).status).not.toBe(0)
  })

  it('attachXdp counts the datagrams sent to the interface, as a link (by name and by index) and through netlink', () => {
    const xdp = obj.program('on_xdp')
    for (const attach of [
      () => xdp.attachXdp(host, { mode: 'skb' }),
      () => xdp.attachXdp(Number(fs.readFileSync(`/sys/class/net/${host}/ifindex`, 'utf8')), { mode: 'skb' }),
      () => xdp.attachXdp(host, { mode: 'skb', replace: true }),
    ]) {
      const link = attach()
      expect(ip('link', 'show', host)).toContain(`prog/xdp id ${xdp.id}`)
      const before = bss().xdp_packets as bigint
      sendFromNs(5)
      expect(bss().xdp_packets).toBe(before + 5n)
      // A second program on the same interface is refused with a way out.
      const busy = thrown(() => xdp.attachXdp(host, { mode: 'skb' }))
      expect(busy.code).toMatch(/EBUSY|EEXIST/)
      expect(busy.hint).toMatch(/replace: true/)
      link.close()
      expect(ip('link', 'show', host)).not.toContain('prog/xdp')
    }
  })

  it('attachTc counts ingress and egress datagrams, with tcx links (Linux ≥ 6.6) and with clsact filters, and cleans up clsact', () => {
    const tcx = features.attach('tcx')
    if (!tcx) {
      // Older kernels have no tcx: the error says which kernel has it; without an api, clsact is chosen.
      const error = thrown(() => obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress', api: 'tcx' }))
      expect(error).toMatchObject({ code: 'EOPNOTSUPP', op: 'program.attachTc' })
      expect(error.message).toContain('tcx links: they need Linux ≥ 6.6')
      const link = obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress' })
      expect(link.target).toBe(`tc ${host} ingress (clsact)`)
      link.close()
    }
    for (const api of tcx ? (['tcx', 'clsact'] as const) : (['clsact'] as const)) {
      const ingress = obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress', api })
      const egress = obj.program('on_tc_egress').attachTc(host, { direction: 'egress', api })
      expect(ingress.target).toBe(`tc ${host} ingress (${api})`)
      if (api === 'clsact') expect(ip('link', 'show', host) + execFileSync('tc', ['qdisc', 'show', 'dev', host]).toString()).toContain('clsact')
      const before = { in: bss().tc_ingress_packets as bigint, out: bss().tc_egress_packets as bigint }
      sendFromNs(4)
      sendToNs(3)
      expect(bss().tc_ingress_packets).toBe(before.in + 4n)
      expect(bss().tc_egress_packets).toBe(before.out + 3n)
      ingress.close()
      egress.close()
      sendFromNs(2)
      expect(bss().tc_ingress_packets).toBe(before.in + 4n)
      expect(execFileSync('tc', ['qdisc', 'show', 'dev', host]).toString()).not.toContain('clsact')
    }
    // A priority means clsact (tcx has none).
    const prioritized = obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress', priority: 7 })
    expect(prioritized.target).toBe(`tc ${host} ingress (clsact, priority 7)`)
    expect(execFileSync('tc', ['filter', 'show', 'dev', host, 'ingress']).toString()).toContain('pref 7')
    prioritized.close()
    expect(execFileSync('tc', ['qdisc', 'show', 'dev', host]).toString()).not.toContain('clsact')
  })

  it('detach() removes a pinned XDP link from the interface, in this process or from its pin in another', async () => {
    const pin = `/sys/fs/bpf/bpfkit-xdp-${process.pid}`
    const link = obj.program('on_xdp').attachXdp(host, { mode: 'skb' })
    link.pin(pin)
    link.detach()
    expect(ip('link', 'show', host)).not.toContain('prog/xdp')
    expect(link.closed).toBe(false)
    link.unpin()
    link.close()
    const again = obj.program('on_xdp').attachXdp(host, { mode: 'skb' })
    again.pin(pin)
    again.close()
    expect(ip('link', 'show', host)).toContain('prog/xdp')
    const script = `
      const { Link } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
      const link = Link.openPinned(${JSON.stringify(pin)})
      link.detach(); link.unpin(); link.close()`
    expect((await node(script)).status).toBe(0)
    expect(ip('link', 'show', host)).not.toContain('prog/xdp')
    expect(fs.existsSync(pin)).toBe(false)
  })

  it('netlink XDP and clsact filters, which the kernel does not tie to a process, are removed when a process or worker ends without close()', async () => {
    const attachAll = `
      const { BpfObject } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
      const obj = BpfObject.open(${JSON.stringify(fixture('attach.bpf.o'))})
      obj.load().then(() => {
        obj.program('on_xdp').attachXdp(${JSON.stringify(host)}, { mode: 'skb', replace: true })
        obj.program('on_tc_ingress').attachTc(${JSON.stringify(host)}, { direction: 'ingress', api: 'clsact' })
        console.log(require('node:child_process').execFileSync('tc', ['filter', 'show', 'dev', ${JSON.stringify(host)}, 'ingress']).toString())
        EXIT
      })`
    const attached = (): string => ip('link', 'show', host) + execFileSync('tc', ['qdisc', 'show', 'dev', host]).toString()
    for (const exit of ['', 'process.exit(0)']) {
      const printed = (await node(attachAll.replace('EXIT', exit))).stdout
      expect(printed).toContain('on_tc_ingress')
      expect(attached()).not.toMatch(/prog\/xdp|clsact/)
    }
    const worker = `
      const { Worker } = require('node:worker_threads')
      const w = new Worker(${JSON.stringify(attachAll.replace('EXIT', ''))}, { eval: true, stdout: false })
      w.on('exit', () => { console.log(require('node:child_process').execFileSync('ip', ['link', 'show', ${JSON.stringify(host)}]).toString()) ; setTimeout(() => {}, 10) })`
    // The user's own 'exit' handlers still read the object's maps; a USDT link ends before its object.
    const exitHandler = `
      const { BpfObject } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
      const obj = BpfObject.open(${JSON.stringify(fixture('attach.bpf.o'))})
      obj.load().then(() => {
        obj.program('on_usdt').attachUsdt({ binary: ${JSON.stringify(target)}, provider: 'bpfkit', name: 'added' })
        obj.program('on_xdp').attachXdp(${JSON.stringify(host)}, { mode: 'skb', replace: true })
        process.on('exit', () => console.log('hits', obj.bss.usdt_hits))
        process.exit(0)
      })`
    expect((await node(exitHandler)).stdout).toBe('hits 0n\n')
    expect(attached()).not.toContain('prog/xdp')
    const afterWorker = (await node(worker)).stdout
    expect(afterWorker).not.toContain('prog/xdp')
    expect(attached()).not.toMatch(/prog\/xdp|clsact/)
  })

  it("closing a clsact filter removes bpfkit's own only: another tool's filter, and the qdisc holding it, stay", () => {
    const tc = (...args: string[]): string => execFileSync('tc', args).toString()
    const other = ['prio', '50', 'bpf', 'bytecode', '1,6 0 0 0,']
    // Another tool adds a filter to the qdisc bpfkit created: closing bpfkit's link leaves both.
    const link = obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress', api: 'clsact' })
    tc('filter', 'add', 'dev', host, 'egress', ...other)
    link.close()
    expect(tc('filter', 'show', 'dev', host, 'ingress')).toBe('')
    expect(tc('filter', 'show', 'dev', host, 'egress')).toContain('pref 50 bpf')
    expect(tc('qdisc', 'show', 'dev', host)).toContain('clsact')
    // A qdisc bpfkit did not create stays, empty or not.
    obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress', api: 'clsact' }).close()
    tc('filter', 'del', 'dev', host, 'egress', 'prio', '50')
    obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress', api: 'clsact' }).close()
    expect(tc('qdisc', 'show', 'dev', host)).toContain('clsact')
    tc('qdisc', 'del', 'dev', host, 'clsact')
    // The other tool's filter went first: the qdisc bpfkit created goes with bpfkit's last filter.
    const first = obj.program('on_tc_ingress').attachTc(host, { direction: 'ingress', api: 'clsact' })
    const second = obj.program('on_tc_egress').attachTc(host, { direction: 'egress', api: 'clsact' })
    tc('filter', 'add', 'dev', host, 'ingress', ...other)
    tc('filter', 'del', 'dev', host, 'ingress', 'prio', '50')
    first.close()
    expect(tc('qdisc', 'show', 'dev', host)).toContain('clsact')
    second.close()
    expect(tc('qdisc', 'show', 'dev', host)).not.toContain('clsact')
  })

  it('a clsact link whose interface was deleted leaves alone the interface that took over its ifindex', () => {
    const tc = (...args: string[]): string => execFileSync('tc', args).toString()
    const [a, b] = [`bkc${process.pid % 100000}`, `bkd${process.pid % 100000}`]
    let index = 100000 + (process.pid % 1000000)
    while (fs.readdirSync('/sys/class/net').some((name) => fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim() === String(index))) index++
    const create = (): void => {
      ip('link', 'add', 'name', a, 'index', String(index), 'type', 'veth', 'peer', 'name', b)
      ip('link', 'set', a, 'up')
    }
    create()
    try {
      const stale = obj.program('on_tc_ingress').attachTc(a, { direction: 'ingress', api: 'clsact' })
      ip('link', 'del', a)
      create()
      // Another tool's qdisc and filter on the new interface, which has the old one's ifindex.
      tc('qdisc', 'add', 'dev', a, 'clsact')
      tc('filter', 'add', 'dev', a, 'ingress', 'prio', '50', 'bpf', 'bytecode', '1,6 0 0 0,')
      // bpfkit does not take that qdisc for the one it created...
      const fresh = obj.program('on_tc_egress').attachTc(a, { direction: 'egress', api: 'clsact' })
      fresh.close()
      // ...nor does closing the old link touch the new interface.
      stale.close()
      expect(tc('qdisc', 'show', 'dev', a)).toContain('clsact')
      expect(tc('filter', 'show', 'dev', a, 'ingress')).toContain('pref 50 bpf')
      expect(tc('filter', 'show', 'dev', a, 'egress')).toBe('')
    } finally {
      spawnSync('ip', ['link', 'del', a])
    }
  })

  it('netlink XDP and clsact filters go on SIGINT, SIGTERM and SIGHUP, and the signal still ends the process', async () => {
    const attached = (): string => ip('link', 'show', host) + execFileSync('tc', ['qdisc', 'show', 'dev', host]).toString()
    const script = (handler: string): string => `
      const { BpfObject } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
      const obj = BpfObject.open(${JSON.stringify(fixture('attach.bpf.o'))})
      obj.load().then(() => {
        obj.program('on_xdp').attachXdp(${JSON.stringify(host)}, { mode: 'skb', replace: true })
        obj.program('on_tc_ingress').attachTc(${JSON.stringify(host)}, { direction: 'ingress', api: 'clsact' })
        ${handler}
        console.log('attached')
        setInterval(() => {}, 1000)
      })`
    const run = async (handler: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> => {
      const child = spawn(process.execPath, ['-e', script(handler)])
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      await waitFor(() => out.includes('attached'), 20_000, 'the child to attach')
      expect(attached()).toMatch(/prog\/xdp[\s\S]*clsact/)
      child.kill(signal)
      const [code, by] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
      return { code, signal: by, out }
    }
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      expect((await run('', signal)).signal).toBe(signal)
      expect(attached()).not.toMatch(/prog\/xdp|clsact/)
    }
    // A listener of the user's own is in charge: nothing goes until the process exits.
    const own = await run(`process.on('SIGTERM', () => {
      console.log(require('node:child_process').execFileSync('ip', ['link', 'show', ${JSON.stringify(host)}]).toString().includes('prog/xdp') ? 'still attached' : 'detached')
      process.exit(3)
    })`, 'SIGTERM')
    expect(own).toMatchObject({ code: 3, signal: null })
    expect(own.out).toContain('still attached')
    expect(attached()).not.toMatch(/prog\/xdp|clsact/)
  })

  it("libbpf's messages while a link closes go to the object's logger, never straight to stderr", async () => {
    // Another tool removes bpfkit's XDP program and clsact qdisc: closing the links makes the kernel
    // explain that they are gone, which libbpf prints.
    const script = `
      const { execFileSync } = require('node:child_process')
      const { BpfObject } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
      const messages = []
      const obj = BpfObject.open(${JSON.stringify(fixture('attach.bpf.o'))}, { logger: (level, message) => messages.push([level, message]) })
      obj.load().then(() => {
        const xdp = obj.program('on_xdp').attachXdp(${JSON.stringify(host)}, { mode: 'skb', replace: true })
        const tc = obj.program('on_tc_ingress').attachTc(${JSON.stringify(host)}, { direction: 'ingress', api: 'clsact' })
        messages.length = 0
        execFileSync('ip', ['link', 'set', 'dev', ${JSON.stringify(host)}, 'xdpgeneric', 'off'])
        execFileSync('tc', ['qdisc', 'del', 'dev', ${JSON.stringify(host)}, 'clsact'])
        xdp.close()
        tc.close()
        console.log(JSON.stringify(messages))
      })`
    const result = await node(script)
    expect(result.stderr).toBe('')
    const messages = JSON.parse(result.stdout) as Array<[string, string]>
    expect(messages.some(([level, message]) => level === 'warn' && message.includes('Kernel error message'))).toBe(true)
    // The same where process.exit() releases them.
    const atExit = await node(`
      const { execFileSync } = require('node:child_process')
      const { BpfObject } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
      const messages = []
      const obj = BpfObject.open(${JSON.stringify(fixture('attach.bpf.o'))}, { logger: (level, message) => messages.push([level, message]) })
      process.on('exit', () => console.log(JSON.stringify(messages)))
      obj.load().then(() => {
        obj.program('on_xdp').attachXdp(${JSON.stringify(host)}, { mode: 'skb', replace: true })
        messages.length = 0
        execFileSync('ip', ['link', 'set', 'dev', ${JSON.stringify(host)}, 'xdpgeneric', 'off'])
        process.exit(0)
      })`)
    expect(atExit.stderr).toBe('')
    expect((JSON.parse(atExit.stdout) as Array<[string, string]>).some(([, message]) => message.includes('Kernel error message'))).toBe(true)
  })

  it('wrong program types and unknown interfaces are clear errors before any syscall', () => {
    expect(thrown(() => obj.program('on_tracepoint').attachXdp(host))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => obj.program('on_xdp').attachXdp('bpfkit-nope0'))).toMatchObject({ code: 'ENODEV' })
    expect(thrown(() => obj.program('on_xdp').attachXdp(host, { mode: 'fast' as 'skb' }))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => obj.program('on_tc_ingress').attachTc(host, {} as { direction: 'ingress' }))).toMatchObject({ code: 'EINVAL' })
    // Out of range numbers are refused, never wrapped to another interface (2**32 + 1 would be lo).
    expect(thrown(() => obj.program('on_xdp').attachXdp(2 ** 32 + 1, { mode: 'skb' }))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => obj.program('on_xdp').attachXdp(host, { mode: 'toString' as 'skb' }))).toMatchObject({ code: 'EINVAL' })
  })

  it('replace: true says why netlink could not replace: a program in another mode, or one a link holds', () => {
    const xdp = obj.program('on_xdp')
    const generic = xdp.attachXdp(host, { mode: 'skb', replace: true })
    const mode = thrown(() => xdp.attachXdp(host, { mode: 'drv', replace: true }))
    expect(mode.code).toBe('EEXIST')
    expect(mode.hint).toContain('in another mode')
    generic.close()
    const link = xdp.attachXdp(host, { mode: 'skb' })
    const held = thrown(() => xdp.attachXdp(host, { mode: 'skb', replace: true }))
    expect(held.code).toBe('EBUSY')
    expect(held.hint).toContain('held by a BPF link')
    link.close()
    expect(ip('link', 'show', host)).not.toContain('prog/xdp')
  })
})

describe('sockets and cgroups', () => {
  it('attachSocketFilter drops and truncates what a UDP socket receives, until closed', async () => {
    const server = dgram.createSocket('udp4')
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve))
    const received: string[] = []
    server.on('message', (message) => received.push(message.toString()))
    const client = dgram.createSocket('udp4')
    const send = (text: string): Promise<unknown> => new Promise((resolve) => client.send(text, server.address().port, '127.0.0.1', resolve))
    const link = obj.program('on_socket').attachSocketFilter(server)
    expect(link.fd).toBe(-1)
    for (const text of ['Drop me', 'hello world', 'D', 'abcdefg', 'end!']) await send(text)
    await waitFor(() => received.includes('end!'), 2000, 'the last datagram')
    expect(received).toEqual(['hell', 'abcd', 'end!'])
    expect(thrown(() => link.pin('/sys/fs/bpf/bpfkit-socket'))).toMatchObject({ code: 'EOPNOTSUPP' })
    link.close()
    await send('Done')
    await waitFor(() => received.includes('Done'), 2000, 'a datagram after close')
    client.close()
    server.close()
  })

  it('attachSocketFilter refuses what is not a socket', () => {
    const fd = fs.openSync(fixture('attach.bpf.c'), 'r')
    try {
      expect(thrown(() => obj.program('on_socket').attachSocketFilter(fd))).toMatchObject({ code: 'ENOTSOCK' })
    } finally {
      fs.closeSync(fd)
    }
    expect(thrown(() => obj.program('on_socket').attachSocketFilter(dgram.createSocket('udp4')))).toMatchObject({ code: 'EINVAL' })
  })

  it('attachCgroup with a connect4 program denies connects from processes in the cgroup only', async () => {
    const cgroup = path.join(cgroup2Mount(), `bpfkit-test-${process.pid}`)
    fs.mkdirSync(cgroup)
    const server = net.createServer((socket) => socket.end())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const open = (server.address() as net.AddressInfo).port
    // A child joins the cgroup, then tries the forbidden port and the open one.
    const probe = (): Promise<Record<string, string>> => new Promise((resolve, reject) => {
      const script = `
        const net = require('node:net'); const out = {}
        const tryPort = (port) => new Promise((r) => { const s = net.connect(port, '127.0.0.1'); s.on('connect', () => { out[port] = 'ok'; s.destroy(); r() }); s.on('error', (e) => { out[port] = e.code; r() }) })
        tryPort(${PORT}).then(() => tryPort(${open})).then(() => console.log(JSON.stringify(out)))`
      const child = spawn('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec ${process.execPath} -e "$0"`, script])
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))))
    })
    try {
      const link = obj.program('on_connect4').attachCgroup(cgroup, { type: 'connect4' })
      expect(link.info()).toMatchObject({ type: 'cgroup' })
      expect(await probe()).toEqual({ [PORT]: 'EPERM', [open]: 'ok' })
      // This process is outside the cgroup: its connect reaches the kernel's TCP (nobody listens: refused).
      const outside = await new Promise((resolve) => net.connect(PORT, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code)))
      expect(outside).toBe('ECONNREFUSED')
      link.close()
      expect(await probe()).toEqual({ [PORT]: 'ECONNREFUSED', [open]: 'ok' })
      // The SEC() name implies the attach type.
      const implied = obj.program('on_connect4').attachCgroup(cgroup)
      expect(implied.target).toBe(`cgroup ${cgroup} (cgroup_inet4_connect)`)
      implied.close()
      for (const type of ['nope', 'toString', '__proto__']) {
        expect(thrown(() => obj.program('on_connect4').attachCgroup(cgroup, { type }))).toMatchObject({ code: 'EINVAL' })
      }
      expect(thrown(() => obj.program('on_connect4').attachCgroup(2 ** 32))).toMatchObject({ code: 'EINVAL' })
      expect(thrown(() => obj.program('on_connect4').attachCgroup('/nonexistent/cgroup'))).toMatchObject({ code: 'ENOENT' })
    } finally {
      server.close()
      fs.rmdirSync(cgroup)
    }
  })
})

describe('perf events', () => {
  it('attachPerfEvent samples a busy loop of this process on every CPU, or on one CPU as a pinnable link', () => {
    const before = bss().perf_event_hits as bigint
    const link = obj.program('on_perf_event').attachPerfEvent({ type: 'software', config: 'cpu-clock', sampleFreq: 1000 })
    expect(link.fd).toBe(-1)
    const end = Date.now() + 300
    while (Date.now() < end) {}
    expect(bss().perf_event_hits as bigint).toBeGreaterThan(before + 50n)
    expect(thrown(() => link.pin('/sys/fs/bpf/bpfkit-perf')).hint).toMatch(/\{ cpu \}/)
    link.close()
    // A pinned one-CPU link keeps sampling after this process closes it, until the pin goes.
    const pin = `/sys/fs/bpf/bpfkit-perf-${process.pid}`
    const cpu = Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[36])
    const one = obj.program('on_perf_event').attachPerfEvent({ type: 'software', config: 'task-clock', sampleFreq: 1000, pid: process.pid })
    expect(one.info()).toMatchObject({ type: 'perf_event' })
    one.pin(pin)
    one.close()
    const pinned = bss().perf_event_hits as bigint
    const spin = Date.now() + 200
    while (Date.now() < spin) {}
    expect(bss().perf_event_hits as bigint).toBeGreaterThan(pinned + 20n)
    fs.rmSync(pin)
    // The kernel frees the link (and the event with it) shortly after its last reference goes.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    const unpinned = bss().perf_event_hits as bigint
    const idle = Date.now() + 100
    while (Date.now() < idle) {}
    expect(bss().perf_event_hits).toBe(unpinned)
    obj.program('on_perf_event').attachPerfEvent({ type: 'software', config: 0, samplePeriod: 1_000_000, cpu }).close()
    expect(thrown(() => obj.program('on_perf_event').attachPerfEvent({ type: 'software', config: 'nope' as 'cpu-clock', sampleFreq: 1 })))
      .toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => obj.program('on_perf_event').attachPerfEvent({ type: 'software', config: 'cpu-clock' }))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => obj.program('on_perf_event').attachPerfEvent({ type: 'software', config: 'toString' as 'cpu-clock', sampleFreq: 1 })))
      .toMatchObject({ code: 'EINVAL' })
  })
})

describe('links', () => {
  it('a pinned link keeps the program attached after close; another process reopens it from the pin and releases it', async () => {
    const pin = `/sys/fs/bpf/bpfkit-link-${process.pid}`
    const link = obj.program('on_tracepoint').attachTracepoint('syscalls', 'sys_enter_getppid')
    link.pin(pin)
    expect(link.pinPath).toBe(pin)
    const id = link.info()!.id
    link.close()
    const hits = bss().tracepoint_hits as bigint
    void process.ppid
    expect(bss().tracepoint_hits).toBe(hits + 1n)
    // Perf event links cannot be detached by BPF_LINK_DETACH: the last reference going detaches them.
    const script = `
      const { Link } = require(${JSON.stringify(path.join(root, 'dist/index.js'))})
      const link = Link.openPinned(${JSON.stringify(pin)})
      let detach
      try { link.detach() } catch (error) { detach = { code: error.code, hint: error.hint } }
      console.log(JSON.stringify({ info: link.info(), detach }))
      link.unpin(); link.close()`
    const result = JSON.parse((await node(script)).stdout)
    // Linux 6.6 added what a perf event link is attached to (here the tracepoint's name) to its info.
    const [major, minor] = os.release().split('.').map(Number) as [number, number]
    const named = major > 6 || (major === 6 && minor >= 6)
    expect(result.info).toEqual({ id, type: 'perf_event', programId: obj.program('on_tracepoint').id, ...(named ? { name: 'sys_enter_getppid' } : {}) })
    expect(result.detach.code).toBe('EOPNOTSUPP')
    expect(result.detach.hint).toMatch(/unpin/)
    expect(fs.existsSync(pin)).toBe(false)
    void process.ppid
    expect(bss().tracepoint_hits).toBe(hits + 1n)
    expect(thrown(() => Link.openPinned(pin))).toMatchObject({ code: 'ENOENT' })
  })

  it("Link.openPinned refuses a program's or a map's pin and leaves it; a pinned link says where its one pin is", () => {
    const pins = ['prog', 'map', 'a', 'b'].map((name) => `/sys/fs/bpf/bpfkit-${name}-${process.pid}`)
    const [programPin, mapPin, first, second] = pins as [string, string, string, string]
    obj.program('on_xdp').pin(programPin)
    obj.map('attach.bss').pin(mapPin)
    try {
      for (const [pin, kind] of [[programPin, 'bpf-prog'], [mapPin, 'bpf-map']]) {
        const error = thrown(() => Link.openPinned(pin!))
        expect(error).toMatchObject({ code: 'EINVAL', op: 'bpf_link__open' })
        expect(error.message).toContain(`${pin} is not a link (anon_inode:${kind})`)
        expect(fs.existsSync(pin!)).toBe(true)
      }
      const link = obj.program('on_tracepoint').attachTracepoint('syscalls', 'sys_enter_getppid')
      link.pin(first)
      const again = thrown(() => link.pin(second))
      expect(again).toMatchObject({ code: 'EBUSY', op: 'link.pin' })
      expect(again.message).toContain(`pinned at ${first} already`)
      expect(fs.existsSync(second)).toBe(false)
      link.unpin()
      link.close()
    } finally {
      for (const pin of pins) fs.rmSync(pin, { force: true })
    }
  })

  it('obj.attach() reports what each program attached to, and why the others were skipped', async () => {
    const other = BpfObject.open(fixture('attach.bpf.o'))
    other.program('on_kprobe').autoload = false
    await other.load()
    const attached = other.attach()
    try {
      expect(attached.map((link) => [link.program, link.target])).toEqual([
        ['on_tracepoint', 'tracepoint/syscalls/sys_enter_getppid'],
        ['on_raw_tracepoint', 'raw_tp/sys_enter'],
      ])
      const skipped = Object.fromEntries(attached.skipped.map((s) => [s.program, s.reason]))
      expect(skipped.on_kprobe).toBe('autoload is off')
      expect(skipped.on_xdp).toMatch(/SEC\("xdp"\) names no target: use attachXdp\(iface\)/)
      expect(skipped.on_connect4).toMatch(/attachCgroup/)
      expect(attached.report()).toContain('on_tracepoint → tracepoint/syscalls/sys_enter_getppid')
    } finally {
      await other.close()
    }
  })
})

describe('program info', () => {
  it('info() agrees with bpftool, and stats() counts runs while kernel.bpf_stats_enabled is on', () => {
    const program = obj.program('on_tracepoint')
    const info = program.info()
    const shown = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(program.id), '-j']).toString())
    expect(info).toMatchObject({ id: shown.id, tag: shown.tag, type: 'tracepoint', name: 'on_tracepoint', jitedSize: shown.bytes_jited })
    expect(info.instructions * 8).toBe(shown.bytes_xlated)
    const sysctl = '/proc/sys/kernel/bpf_stats_enabled'
    const previous = fs.readFileSync(sysctl, 'utf8').trim()
    fs.writeFileSync(sysctl, '1')
    const link = program.attachTracepoint('syscalls', 'sys_enter_getppid')
    try {
      const before = program.stats()
      for (let i = 0; i < 10; i++) void process.ppid
      const after = program.stats()
      expect(after.enabled).toBe(true)
      expect(after.runCount - before.runCount).toBeGreaterThanOrEqual(10n)
      expect(after.runTimeNs).toBeGreaterThan(before.runTimeNs)
    } finally {
      link.close()
      fs.writeFileSync(sysctl, previous)
    }
  })
})
