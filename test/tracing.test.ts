// The attach types that need more of the kernel than this development VM has: kprobes, kretprobes,
// kprobe.multi, ksyscall, fentry, fexit, fmod_ret, LSM, tp_btf, iterators and struct_ops. They run for
// real on Debian's 6.1 and 6.12 kernels (npm run test:kernels); a kernel without a feature skips its
// test, saying which kernel and which feature.
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest'
import { BpfError, BpfObject, Btf, features } from 'bpfkit'
import { bpfFds, fixture, thrown } from './helpers'

const ARCH = process.arch === 'arm64' ? 'arm64' : 'x64'
const GETPPID = process.arch === 'arm64' ? 173 : 110
/** The kernel's getppid handler, which the kprobes hook: Node calls getppid() for process.ppid. */
const HANDLER = `__${ARCH}_sys_getppid`
/**
 * The LSM hook kill() calls, which the trampolines hook: in every kernel's BTF (getppid's handler is an
 * alias, which BTF leaves out), and a security_* function, whose result fmod_ret may change even without
 * CONFIG_FUNCTION_ERROR_INJECTION (Debian). process.kill(pid, 0) calls it.
 */
const KILL = 'security_task_kill'
const KERNEL = `Linux ${os.release()}`

const lsms = (() => {
  try {
    return fs.readFileSync('/sys/kernel/security/lsm', 'utf8').split(',')
  } catch {
    return []
  }
})()
const kernel = {
  kprobes: features.attach('kprobe'),
  kprobeMulti: features.attach('kprobe_multi'),
  trampolines: features.attach('fentry'),
  tpBtf: features.attach('tp_btf'),
  iter: features.attach('iter'),
  lsm: features.attach('lsm') && lsms.includes('bpf'),
  // What libbpf looks for to register a struct_ops map of `struct tcp_congestion_ops`.
  tcpCongestionOps: (() => {
    const vmlinux = Btf.vmlinux()
    try {
      return vmlinux.find('bpf_struct_ops_tcp_congestion_ops', 'struct') !== undefined
    } finally {
      vmlinux.close()
    }
  })(),
}

/** Skips the test on a kernel that lacks `feature`, naming the kernel and the feature. */
function requires(ctx: TestContext, present: boolean, feature: string): void {
  if (!present) ctx.skip(`${KERNEL} has no ${feature}`)
}

let obj: BpfObject

function bss(): Record<string, number | bigint> {
  return obj.bss as Record<string, number | bigint>
}

/** Calls kill(pid, 0) on this process `times` times. */
function kill(times = 1): void {
  for (let i = 0; i < times; i++) process.kill(process.pid, 0)
}

/** Calls getppid() `times` times (process.ppid asks the kernel each time). */
function getppid(times = 1): number {
  let ppid = 0
  for (let i = 0; i < times; i++) ppid = process.ppid
  return ppid
}

beforeAll(async () => {
  obj = BpfObject.open(fixture('tracing.bpf.o'))
  obj.rodata.target_pid = process.pid
  obj.rodata.target_syscall = GETPPID
  const load = {
    on_kprobe: kernel.kprobes, on_kretprobe: kernel.kprobes, on_ksyscall: kernel.kprobes, on_kretsyscall: kernel.kprobes,
    on_kprobe_multi: kernel.kprobeMulti,
    on_fentry: kernel.trampolines, on_fexit: kernel.trampolines, on_fmod_ret: kernel.trampolines,
    on_tp_btf: kernel.tpBtf, on_iter: kernel.iter, on_lsm: kernel.lsm,
  } as Record<string, boolean>
  for (const program of obj.programs) program.autoload = load[program.name] === true
  for (const name of ['on_fentry', 'on_fexit', 'on_fmod_ret']) obj.program(name).setAttachTarget(KILL)
  await obj.load()
})

afterAll(() => {
  obj?.close()
  expect(bpfFds().links).toEqual([])
})

afterEach(() => {
  expect(bpfFds().links).toEqual([])
})

describe('kprobes', () => {
  it('attachKprobe runs on the kernel function with its cookie; a kretprobe sees the return value', (ctx) => {
    requires(ctx, kernel.kprobes, 'kprobes (CONFIG_KPROBES)')
    const entry = obj.program('on_kprobe').attachKprobe({ symbol: HANDLER, cookie: 0xbeefn })
    const exit = obj.program('on_kretprobe').attachKprobe({ symbol: HANDLER, retprobe: true })
    expect(entry.target).toBe(`kprobe ${HANDLER}`)
    const before = { entry: bss().kprobe_hits as bigint, exit: bss().kretprobe_hits as bigint }
    const ppid = getppid(5)
    expect(bss()).toMatchObject({ kprobe_hits: before.entry + 5n, kretprobe_hits: before.exit + 5n, kprobe_cookie: 0xbeefn, kretprobe_ret: BigInt(ppid) })
    entry.close()
    exit.close()
    getppid()
    expect(bss().kprobe_hits).toBe(before.entry + 5n)
  })

  it('a missing kernel function is ENOENT', (ctx) => {
    requires(ctx, kernel.kprobes, 'kprobes (CONFIG_KPROBES)')
    expect(thrown(() => obj.program('on_kprobe').attachKprobe({ symbol: 'bpfkit_no_such_function' })).code).toMatch(/ENOENT|EINVAL/)
  })

  it('without CONFIG_KPROBES, attachKprobe fails with a hint that says so', async (ctx) => {
    if (kernel.kprobes) ctx.skip(`${KERNEL} has kprobes: the test above attaches them`)
    const other = BpfObject.open(fixture('tracing.bpf.o'))
    try {
      for (const program of other.programs) program.autoload = program.name === 'on_kprobe'
      await other.load()
      const error = thrown(() => other.program('on_kprobe').attachKprobe({ symbol: HANDLER }))
      expect(error.op).toBe('bpf_program__attach_kprobe_opts')
      expect(error.hint).toMatch(/lacks CONFIG_KPROBES/)
    } finally {
      other.close()
    }
  })

  it('attachKsyscall finds the syscall handler by the syscall name, on entry and on return', (ctx) => {
    requires(ctx, kernel.kprobes, 'kprobes (CONFIG_KPROBES)')
    const entry = obj.program('on_ksyscall').attachKsyscall({ syscall: 'getppid' })
    const exit = obj.program('on_kretsyscall').attachKsyscall({ syscall: 'getppid', retprobe: true })
    expect(exit.target).toBe('kretsyscall getppid')
    const before = bss().ksyscall_hits as bigint
    const ppid = getppid(3)
    expect(bss()).toMatchObject({ ksyscall_hits: before + 3n, kretsyscall_ret: BigInt(ppid) })
    entry.close()
    exit.close()
  })

  it('attachKprobeMulti attaches to several functions with a cookie each', (ctx) => {
    requires(ctx, kernel.kprobeMulti, 'kprobe.multi links (CONFIG_FPROBE)')
    const link = obj.program('on_kprobe_multi').attachKprobeMulti({ symbols: [HANDLER, `__${ARCH}_sys_kill`], cookies: [7n, 8n] })
    const before = bss().multi_hits as bigint
    getppid(2)
    expect(bss()).toMatchObject({ multi_hits: before + 2n, multi_cookie: 7n })
    kill()
    expect(bss()).toMatchObject({ multi_hits: before + 3n, multi_cookie: 8n })
    link.close()
    const pattern = obj.program('on_kprobe_multi').attachKprobeMulti({ pattern: `__${ARCH}_sys_kil*` })
    kill()
    expect(bss().multi_hits).toBe(before + 4n)
    pattern.close()
  })

  it('without kprobe.multi links, attachKprobeMulti names what the kernel lacks', async (ctx) => {
    if (kernel.kprobeMulti) ctx.skip(`${KERNEL} has kprobe.multi links: the test above attaches them`)
    const other = BpfObject.open(fixture('tracing.bpf.o'))
    try {
      for (const program of other.programs) program.autoload = false
      await other.load()
      // Refused before any syscall, from the probe: the program need not even be loaded.
      const error = thrown(() => other.program('on_kprobe_multi').attachKprobeMulti({ symbols: [HANDLER] }))
      expect(error).toMatchObject({ code: 'EOPNOTSUPP', op: 'program.attachKprobeMulti' })
      expect(error.message).toContain('no kprobe.multi links: they need CONFIG_FPROBE')
      expect(error.hint).toMatch(/attachKprobe/)
    } finally {
      other.close()
    }
  })
})

describe('fentry, fexit, fmod_ret, tp_btf and iterators', () => {
  it('fentry and fexit run around the function setAttachTarget chose; fexit sees its return value', (ctx) => {
    requires(ctx, kernel.trampolines, 'BPF trampolines (fentry/fexit)')
    const entry = obj.program('on_fentry').attachFentry()
    const exit = obj.program('on_fexit').attachFentry()
    expect(entry.info()).toMatchObject({ type: 'tracing' })
    const before = { entry: bss().fentry_hits as bigint, exit: bss().fexit_hits as bigint }
    kill(4)
    expect(bss()).toMatchObject({ fentry_hits: before.entry + 4n, fexit_hits: before.exit + 4n, fexit_ret: 0n })
    entry.close()
    exit.close()
    kill()
    expect(bss().fentry_hits).toBe(before.entry + 4n)
  })

  it('fmod_ret replaces what the function returns, for the watched process only', (ctx) => {
    requires(ctx, kernel.trampolines, 'BPF trampolines (fmod_ret)')
    const link = obj.program('on_fmod_ret').attachFentry()
    try {
      obj.bss.fmod_ret_value = -1 // -EPERM, without running kill at all
      expect(() => kill()).toThrow(expect.objectContaining({ code: 'EPERM' }))
      // Another process is left alone.
      expect(spawnSync('sh', ['-c', `kill -0 ${process.pid}`]).status).toBe(0)
      obj.bss.fmod_ret_value = 0
      kill()
      obj.bss.fmod_ret_value = -1
    } finally {
      link.close()
    }
    kill()
    obj.bss.fmod_ret_value = 0
  })

  it('tp_btf is bound to its tracepoint at load and attaches with attach()', (ctx) => {
    requires(ctx, kernel.tpBtf, 'tp_btf (BTF-typed raw tracepoints)')
    const link = obj.program('on_tp_btf').attach()
    const before = bss().tp_btf_hits as bigint
    getppid(3)
    expect(bss().tp_btf_hits).toBe(before + 3n)
    link.close()
  })

  it('an iterator link runs the program once per task when read', (ctx) => {
    requires(ctx, kernel.iter, 'BPF iterators')
    const link = obj.program('on_iter').attachIter()
    expect(link.info()).toMatchObject({ type: 'iter' })
    link.close()
  })

  it('without trampolines, fentry fails with a probe-backed error that names the program; tp_btf and iterators are probed on their own', async (ctx) => {
    if (kernel.trampolines) ctx.skip(`${KERNEL} has BPF trampolines: the tests above attach them`)
    const other = BpfObject.open(fixture('tracing.bpf.o'))
    try {
      other.program('on_fentry').setAttachTarget(KILL)
      for (const program of other.programs) program.autoload = program.name === 'on_fentry'
      const error = await other.load().then(() => undefined, (e: BpfError) => e)
      expect(error).toBeInstanceOf(BpfError)
      expect(error!.message).toMatch(/program 'on_fentry' \(SEC\("fentry"\)\) could not be loaded/)
      expect(error!.hint).toMatch(/cannot load fentry programs.*autoload = false for 'on_fentry'/)
    } finally {
      other.close()
    }
    const unloaded = BpfObject.open(fixture('tracing.bpf.o'))
    try {
      for (const program of unloaded.programs) program.autoload = false
      await unloaded.load()
      const refused = thrown(() => unloaded.program('on_fentry').attachFentry())
      expect(refused).toMatchObject({ code: 'EOPNOTSUPP' })
      expect(refused.message).toContain("features.attach('fentry') is false")
    } finally {
      unloaded.close()
    }
  })
})

describe('LSM', () => {
  it('an LSM program sees the watched process open files and refuses it the ones it chooses', (ctx) => {
    requires(ctx, kernel.lsm, "BPF LSM ('bpf' in the active LSMs)")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-lsm-'))
    const allowed = path.join(dir, 'allowed')
    const denied = path.join(dir, 'bpfkit-lsm-denied')
    fs.writeFileSync(allowed, 'ok')
    fs.writeFileSync(denied, 'no')
    const link = obj.program('on_lsm').attachLsm()
    try {
      const before = bss().lsm_hits as bigint
      expect(fs.readFileSync(allowed, 'utf8')).toBe('ok')
      expect(() => fs.readFileSync(denied)).toThrow(expect.objectContaining({ code: 'EPERM' }))
      expect(bss().lsm_hits as bigint).toBeGreaterThanOrEqual(before + 2n)
      expect(bss().lsm_denied).toBeGreaterThanOrEqual(1n)
      // Another process is not watched.
      expect(execFileSync('cat', [denied]).toString()).toBe('no')
    } finally {
      link.close()
    }
    expect(fs.readFileSync(denied, 'utf8')).toBe('no')
    fs.rmSync(dir, { recursive: true, force: true })
  })
})

describe('struct_ops', () => {
  it('a TCP congestion control in BPF registers, runs for new connections, and goes on close', async (ctx) => {
    requires(ctx, kernel.tcpCongestionOps, 'struct_ops for tcp_congestion_ops (bpf_struct_ops_tcp_congestion_ops in its BTF)')
    const available = (): string => fs.readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8')
    const cc = BpfObject.open(fixture('struct-ops.bpf.o'))
    try {
      await cc.load()
      const attached = cc.attach()
      expect(attached.map((link) => link.target)).toEqual(['struct_ops bpfkit_cc'])
      expect(attached.skipped.map((s) => s.program)).toContain('bpfkit_cc_init')
      expect(available()).toContain('bpfkit_cc')
      // A connection whose socket chose it (TCP_CONGESTION): the kernel calls its init.
      const connect = `
import socket
server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(1)
client = socket.socket(); client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b'bpfkit_cc')
client.connect(server.getsockname()); server.accept()
print(client.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b'\\0').decode())`
      const before = cc.bss.init_calls as bigint
      expect(execFileSync('python3', ['-c', connect]).toString().trim()).toBe('bpfkit_cc')
      expect(cc.bss.init_calls as bigint).toBeGreaterThan(before)
      for (const link of attached) link.close()
      expect(available()).not.toContain('bpfkit_cc')
      expect(spawnSync('python3', ['-c', connect]).status).not.toBe(0)
    } finally {
      cc.close()
    }
  })
})
