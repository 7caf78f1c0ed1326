// BpfError and VerifierError: the errors every bpfkit call throws, created by native code too.
import * as fs from 'node:fs'
import * as os from 'node:os'

export interface BpfErrorOptions {
  /**
   * errno name such as `EPERM`, a libbpf error (`EFORMAT`, `ERELOC`…) or bpfkit's own (`ECLOSED`,
   * `EBADSTATE`); the name of `errno` when omitted.
   */
  code?: string
  /** Positive errno (or libbpf's LIBBPF_ERRNO__* value) when the kernel or libbpf reported one. */
  errno?: number
  /** The libbpf call (or bpfkit method) that failed, e.g. `bpf_object__load`. */
  op: string
  hint?: string
  cause?: unknown
}

/** Any failure of a bpfkit call: a libbpf or kernel error, a bad argument, or a call in the wrong state. */
export class BpfError extends Error {
  readonly code: string
  readonly errno: number | undefined
  readonly op: string
  /** What to do about it, when bpfkit can tell (privileges, tracefs, BTF…). */
  readonly hint: string | undefined

  constructor(message: string, options: BpfErrorOptions) {
    const code = options.code ?? errnoName(options.errno)
    const hint = options.hint ?? hintFor(code, options.op)
    super(hint ? `${message}\n  hint: ${hint}` : message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.errno = options.errno
    this.op = options.op
    this.hint = hint
  }
}

export interface VerifierErrorOptions extends BpfErrorOptions {
  /** The program the verifier rejected. */
  program: string
  /** The whole verifier log. */
  log: string
}

/** The kernel's verifier rejected a program: `.log` has its whole log, the message its last lines. */
export class VerifierError extends BpfError {
  readonly program: string
  readonly log: string

  constructor(message: string, options: VerifierErrorOptions) {
    super(`${message}\n${lastLines(options.log, 6)}`, options)
    this.program = options.program
    this.log = options.log
  }
}

// errno → name, as glibc's strerrorname_np names them where Linux has two names for one number.
const ERRNO_NAMES = new Map<number, string>()
for (const [name, value] of Object.entries(os.constants.errno)) if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name)
ERRNO_NAMES.set(os.constants.errno.EOPNOTSUPP, 'EOPNOTSUPP')

function errnoName(errno: number | undefined): string {
  return (errno !== undefined && ERRNO_NAMES.get(errno)) || 'EUNKNOWN'
}

/**
 * Any JavaScript value, shortly, for an error message: never throws (Symbols, objects without a
 * prototype, revoked proxies and detached buffers included).
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    case 'bigint':
      return `${value}n`
    case 'symbol':
      return value.toString()
    case 'function':
      return 'a function'
    case 'object': {
      if (value === null) return 'null'
      try {
        if (Array.isArray(value)) return `an array of ${value.length}`
        const prototype = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null
        if (prototype === null) return 'an object with a null prototype'
        const name = prototype.constructor?.name
        return name === 'Object' || typeof name !== 'string' ? 'an object' : `a ${name}`
      } catch {
        return 'an object'
      }
    }
    default:
      return String(value)
  }
}

/** An argument error raised by bpfkit before any syscall. */
export function invalidArgument(op: string, message: string): BpfError {
  return new BpfError(`${op}: ${message}`, { code: 'EINVAL', op })
}

function lastLines(log: string, count: number): string {
  const lines = log.split('\n').filter((line) => line.trim() !== '')
  return lines.slice(-count).map((line) => `  | ${line}`).join('\n')
}

const PRIVILEGES =
  'run as root, or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8; CAP_NET_ADMIN for networking programs)'

function tracefsMounted(): boolean {
  return ['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'].some((dir) => fs.existsSync(dir))
}

/** Whether kprobes can be created: the kprobe PMU, or tracefs's kprobe_events (the legacy interface). */
function kprobesAvailable(): boolean {
  return ['/sys/bus/event_source/devices/kprobe', '/sys/kernel/tracing/kprobe_events', '/sys/kernel/debug/tracing/kprobe_events']
    .some((file) => fs.existsSync(file))
}

function hintFor(code: string, op: string): string | undefined {
  if (op.startsWith('bpf_program__attach_kprobe') && !kprobesAvailable()) {
    return 'this kernel lacks CONFIG_KPROBES (no kprobe PMU and no kprobe_events in tracefs), so kprobes cannot attach here: use a tracepoint, raw tracepoint or fentry program instead'
  }
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      if (op.includes('pin')) return 'pin paths must be on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)'
      return PRIVILEGES
    case 'ENOENT':
      if (op.includes('tracepoint')) {
        return tracefsMounted()
          ? 'no such tracepoint: the available ones are listed under /sys/kernel/tracing/events/<category>/'
          : 'tracefs is not mounted: mount -t tracefs tracefs /sys/kernel/tracing'
      }
      return undefined
    case 'EFORMAT':
    case 'ELIBELF':
      return 'not a BPF ELF object: compile it with clang -g -O2 -target bpf'
    case 'ESRCH':
      if (op === 'bpf_object__load') {
        return fs.existsSync('/sys/kernel/btf/vmlinux')
          ? undefined
          : 'this kernel has no BTF (/sys/kernel/btf/vmlinux): use a kernel built with CONFIG_DEBUG_INFO_BTF or pass btfCustomPath'
      }
      return undefined
    case 'EOPNOTSUPP':
      if (op === 'bpf_program__attach') return "the program's SEC() name has no auto-attach target: use an explicit attach method"
      if (op === 'bpf_link__detach') {
        return 'the kernel detaches only cgroup, XDP, tcx, netns, netfilter and struct_ops links on request: unpin this link and close every reference to it instead'
      }
      if (op === 'bpf_link__pin' || op === 'bpf_link__unpin') {
        return 'only one BPF link can be pinned: socket filters, netlink XDP, clsact filters, USDT probes and perf events on several CPUs cannot (attachPerfEvent with { cpu } makes one link)'
      }
      return undefined
    case 'E2BIG':
      return 'raise maxEntries or the map size before load(), or check the value sizes'
    default:
      return undefined
  }
}
