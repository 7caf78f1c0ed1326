// `bpfkit doctor`: what this machine can do with BPF, each missing piece with its fix.
import * as fs from 'node:fs'
import * as os from 'node:os'
import type { Command } from 'commander'
import { BpfError } from '../errors'
import { probeKernel } from '../probe'
import { selftest, type SelftestReport } from '../selftest'
import { libbpfVersion } from '../version'
import { capabilities } from '../capabilities'

/** One finding: what was checked, whether it is fine, and what to do when it is not. */
export interface Check {
  name: string
  /** null: not probed (this process may not load BPF programs, so the kernel could not be asked). */
  ok: boolean | null
  detail: string
  fix?: string
}

export interface DoctorReport {
  kernel: string
  libbpf: string
  checks: Check[]
  programTypes: Record<string, boolean>
  mapTypes: Record<string, boolean>
  helpers: Record<string, boolean>
  attach: Record<string, boolean>
  /**
   * Whether the kernel's features were probed: a process without CAP_BPF or CAP_SYS_ADMIN (where
   * unprivileged BPF is off) cannot load the probes, and every feature would read as missing.
   */
  probed: boolean
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

function mounted(type: string): string | undefined {
  return read('/proc/mounts')?.split('\n').map((line) => line.split(' ')).find((f) => f[2] === type)?.[1]
}

const CAPABILITIES = ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'] as const

/** Examines the running kernel and this process. */
export function examine(): DoctorReport {
  const probes = probeKernel()
  const checks: Check[] = []
  const btf = fs.existsSync('/sys/kernel/btf/vmlinux')
  checks.push({ name: 'BTF', ok: btf, detail: btf ? '/sys/kernel/btf/vmlinux' : 'no /sys/kernel/btf/vmlinux',
    fix: btf ? undefined : 'a kernel built with CONFIG_DEBUG_INFO_BTF=y (or give BpfObject.open a btfCustomPath)' })
  const tracefs = mounted('tracefs')
  checks.push({ name: 'tracefs', ok: tracefs !== undefined, detail: tracefs ?? 'not mounted',
    fix: tracefs ? undefined : 'mount -t tracefs tracefs /sys/kernel/tracing' })
  const bpffs = mounted('bpf')
  checks.push({ name: 'bpffs', ok: bpffs !== undefined, detail: bpffs ?? 'not mounted (needed to pin)',
    fix: bpffs ? undefined : 'mount -t bpf bpf /sys/fs/bpf' })
  const effective = capabilities().effective
  const root = process.geteuid?.() === 0
  for (const name of CAPABILITIES) {
    const has = effective.includes(name)
    checks.push({ name, ok: has, detail: has ? 'held' : 'missing',
      fix: has ? undefined : `run as root or grant ${name} (setcap, or the container's capabilities)` })
  }
  checks.push({ name: 'root', ok: root, detail: root ? 'euid 0' : `euid ${process.geteuid?.()}`, fix: root ? undefined : 'run as root' })
  const memlock = /^Max locked memory\s+(\S+)/m.exec(read('/proc/self/limits') ?? '')?.[1] ?? 'unknown'
  // Since Linux 5.11 BPF memory is charged to the cgroup, not to RLIMIT_MEMLOCK.
  checks.push({ name: 'memlock', ok: true, detail: memlock === 'unlimited' ? 'unlimited' : `${memlock} bytes (cgroup-accounted since Linux 5.11)` })
  const unprivileged = read('/proc/sys/kernel/unprivileged_bpf_disabled')?.trim() ?? 'unknown'
  const probed = effective.includes('CAP_BPF') || effective.includes('CAP_SYS_ADMIN') || unprivileged === '0'
  const unprobed = 'not probed: this process may not load BPF programs'
  checks.push({ name: 'unprivileged_bpf_disabled', ok: true, detail: unprivileged === '0' ? '0: anyone may load some programs' : `${unprivileged}: BPF needs privileges` })
  const attach: Record<string, boolean> = {
    tracepoint: probes.programTypes.tracepoint === true && tracefs !== undefined,
    raw_tracepoint: probes.programTypes.raw_tracepoint === true,
    ...probes.attach,
  }
  // Each way to attach that a kernel may lack on its own, probed on its own (tp_btf and iterators work
  // without the trampolines fentry needs).
  const fixes: Record<string, string> = {
    tp_btf: 'a kernel with BTF (CONFIG_DEBUG_INFO_BTF=y), 5.5+; raw tracepoints work without it',
    iter: 'a kernel with BTF, 5.8+',
    fentry: 'a kernel with BPF trampolines (CONFIG_DEBUG_INFO_BTF, CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, x86-64/arm64, 5.5+); tp_btf and raw tracepoints work without them',
    fexit: 'as fentry',
    fmod_ret: 'as fentry (it changes functions on the error-injection list and security_* hooks)',
    lsm: "CONFIG_BPF_LSM=y and 'bpf' in the lsm= boot list",
    kprobe: 'a kernel with CONFIG_KPROBES=y (tracepoints and raw tracepoints work without it)',
    uprobe: 'a kernel with CONFIG_UPROBE_EVENTS=y',
    kprobe_multi: 'a kernel with CONFIG_FPROBE=y, 5.18+ (attachKprobe works one function at a time without it)',
    uprobe_multi: 'Linux 6.6+ (attachUprobe works one function at a time without it)',
    tcx: 'Linux 6.6+ (TC programs attach to the clsact qdisc without it)',
    struct_ops: 'a kernel with BTF and struct_ops maps, 5.6+',
  }
  if (!probed) checks.push({ name: 'kernel features', ok: null, detail: unprobed, fix: 'run bpfkit doctor as root (or with CAP_BPF and CAP_PERFMON)' })
  for (const [kind, fix] of Object.entries(fixes)) {
    const ok = attach[kind] === true
    if (!probed) checks.push({ name: kind, ok: null, detail: 'not probed' })
    else checks.push({ name: kind, ok, detail: ok ? 'available' : 'not available', fix: ok ? undefined : fix })
  }
  for (const [name, ok] of Object.entries(probes.helpers)) {
    if (!ok && probed) checks.push({ name: `helper ${name}`, ok, detail: 'not available to tracepoint programs', fix: 'a newer kernel' })
  }
  return { kernel: os.release(), libbpf: libbpfVersion, checks, ...probes, attach, probed }
}

export function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check what this kernel and process can do with BPF (BTF, program and map types, helpers, mounts, privileges)')
    .option('--json', 'print the report as JSON')
    .option('--selftest', 'also load, attach and read a tiny program shipped in the package, and say which addon ran it')
    .action(async (flags: { json?: boolean; selftest?: boolean }) => {
      const report = examine()
      let test: SelftestReport | { error: BpfError } | undefined
      if (flags.selftest) {
        test = await selftest().catch((error: unknown) => ({
          error: error instanceof BpfError ? error : new BpfError(String(error), { code: 'EIO', op: 'selftest', cause: error }),
        }))
        if ('error' in test) process.exitCode = 1
      }
      if (flags.json) {
        const json = test && 'error' in test ? { error: { message: test.error.message, code: test.error.code, op: test.error.op, hint: test.error.hint } } : test
        process.stdout.write(`${JSON.stringify({ ...report, ...(test ? { selftest: json } : {}) }, null, 2)}\n`)
        return
      }
      const lines = [`kernel ${report.kernel}, libbpf ${report.libbpf}`]
      for (const check of report.checks) {
        lines.push(`${check.ok === null ? '?' : check.ok ? '✓' : '✗'} ${check.name.padEnd(26)} ${check.detail}${check.fix ? `\n    fix: ${check.fix}` : ''}`)
      }
      const list = (title: string, entries: Record<string, boolean>): void => {
        if (!report.probed) {
          lines.push(`? ${title.padEnd(26)} not probed: this process may not load BPF programs`)
          return
        }
        const missing = Object.entries(entries).filter(([, ok]) => !ok).map(([name]) => name)
        lines.push(`${missing.length === 0 ? '✓' : '•'} ${title.padEnd(26)} ${Object.keys(entries).length - missing.length} supported` +
          `${missing.length > 0 ? `; not: ${missing.join(', ')}` : ''}`)
      }
      list('program types', report.programTypes)
      list('map types', report.mapTypes)
      if (test) lines.push('', ...selftestLines(test))
      process.stdout.write(`${lines.join('\n')}\n`)
    })
}

function selftestLines(test: SelftestReport | { error: BpfError }): string[] {
  if ('error' in test) {
    const [first] = test.error.message.split('\n')
    return [`✗ selftest failed in ${test.error.op}: ${first}`, ...(test.error.hint ? [`    fix: ${test.error.hint}`] : [])]
  }
  return [
    '✓ selftest: loaded, attached, saw its own event, detached',
    `    addon   ${test.addon} (${test.source})`,
    `    libbpf  ${test.libbpf}`,
    `    glibc   ${test.glibc ? `>= ${test.glibc}` : 'none needed'}; needs ${test.libraries.join(', ')}`,
    `    event   pid ${test.event.pid} (${test.event.comm}) on tracepoint syscalls/sys_enter_getppid`,
    `    steps   ${test.steps.map((s) => `${s.step} ${s.ms} ms`).join(', ')}`,
  ]
}
