// BpfError and VerifierError: the errors every bpfkit call throws, created by native code too.
import * as fs from 'node:fs'
import { verifierHint } from './verifier'

/**
 * Linux's errno numbers by name, one name per number: where C has two, the kernel's (EAGAIN, not
 * EWOULDBLOCK; EDEADLK, not EDEADLOCK; EOPNOTSUPP, not ENOTSUP). The kernel's internal ENOTSUPP (524),
 * which some bpf() commands return, is reported as EOPNOTSUPP: "not supported" has one code.
 */
export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9, ECHILD: 10,
  EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, ENOTBLK: 15, EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25, ETXTBSY: 26, EFBIG: 27,
  ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33, ERANGE: 34, EDEADLK: 35,
  ENAMETOOLONG: 36, ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENOMSG: 42, EIDRM: 43, ECHRNG: 44,
  EL2NSYNC: 45, EL3HLT: 46, EL3RST: 47, ELNRNG: 48, EUNATCH: 49, ENOCSI: 50, EL2HLT: 51, EBADE: 52,
  EBADR: 53, EXFULL: 54, ENOANO: 55, EBADRQC: 56, EBADSLT: 57, EBFONT: 59, ENOSTR: 60, ENODATA: 61,
  ETIME: 62, ENOSR: 63, ENONET: 64, ENOPKG: 65, EREMOTE: 66, ENOLINK: 67, EADV: 68, ESRMNT: 69, ECOMM: 70,
  EPROTO: 71, EMULTIHOP: 72, EDOTDOT: 73, EBADMSG: 74, EOVERFLOW: 75, ENOTUNIQ: 76, EBADFD: 77, EREMCHG: 78,
  ELIBACC: 79, ELIBBAD: 80, ELIBSCN: 81, ELIBMAX: 82, ELIBEXEC: 83, EILSEQ: 84, ERESTART: 85, ESTRPIPE: 86,
  EUSERS: 87, ENOTSOCK: 88, EDESTADDRREQ: 89, EMSGSIZE: 90, EPROTOTYPE: 91, ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93, ESOCKTNOSUPPORT: 94, EOPNOTSUPP: 95, EPFNOSUPPORT: 96, EAFNOSUPPORT: 97,
  EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETDOWN: 100, ENETUNREACH: 101, ENETRESET: 102, ECONNABORTED: 103,
  ECONNRESET: 104, ENOBUFS: 105, EISCONN: 106, ENOTCONN: 107, ESHUTDOWN: 108, ETOOMANYREFS: 109,
  ETIMEDOUT: 110, ECONNREFUSED: 111, EHOSTDOWN: 112, EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115,
  ESTALE: 116, EUCLEAN: 117, ENOTNAM: 118, ENAVAIL: 119, EISNAM: 120, EREMOTEIO: 121, EDQUOT: 122,
  ENOMEDIUM: 123, EMEDIUMTYPE: 124, ECANCELED: 125, ENOKEY: 126, EKEYEXPIRED: 127, EKEYREVOKED: 128,
  EKEYREJECTED: 129, EOWNERDEAD: 130, ENOTRECOVERABLE: 131, ERFKILL: 132, EHWPOISON: 133,
} as const

/** libbpf's own error codes (LIBBPF_ERRNO__*, errno 4000…4013). */
export const LIBBPF_CODES = [
  'ELIBELF', 'EFORMAT', 'EKVERSION', 'EENDIAN', 'EINTERNAL', 'ERELOC', 'ELOAD', 'EVERIFY', 'EPROG2BIG', 'EKVER',
  'EPROGTYPE', 'EWRNGPID', 'EINVSEQ', 'ENLPARSE',
] as const

/**
 * bpfkit's own codes: `ECLOSED` (the object, map, link or reader was closed), `EBADSTATE` (not possible
 * in this state: before or after load, not attached…), `ENOBTF` (a map or object without the BTF the
 * call needs), `EUNKNOWN` (an errno without a name).
 */
export const BPFKIT_CODES = ['ECLOSED', 'EBADSTATE', 'ENOBTF', 'EUNKNOWN'] as const

/** Every `code` a BpfError can have. */
export type BpfErrorCode = keyof typeof ERRNO | (typeof LIBBPF_CODES)[number] | (typeof BPFKIT_CODES)[number]

/** Every `code` a BpfError can have, as a list. */
export const ERROR_CODES: readonly BpfErrorCode[] = [...Object.keys(ERRNO) as Array<keyof typeof ERRNO>, ...LIBBPF_CODES, ...BPFKIT_CODES]

/**
 * Where a BpfError comes from: `argument` — bpfkit refused an argument before any syscall (so an
 * `EINVAL` of this origin is never the kernel's); `state` — a call in the wrong state (closed, not
 * loaded yet, read-only after load); `kernel` — a syscall failed (`errno` says how); `libbpf` — libbpf's
 * own error (EFORMAT, ERELOC…); `bpfkit` — something bpfkit found (no such map, a stale skeleton…).
 */
export type ErrorOrigin = 'argument' | 'state' | 'kernel' | 'libbpf' | 'bpfkit'

export interface BpfErrorOptions {
  /** The code; by default the name of `errno`. */
  code?: BpfErrorCode | undefined
  /** Positive errno (or libbpf's LIBBPF_ERRNO__* value) when the kernel or libbpf reported one. */
  errno?: number | undefined
  /** The libbpf call (or bpfkit method) that failed, e.g. `bpf_object__load`. */
  op: string
  hint?: string | undefined
  /**
   * By default `kernel` (or `libbpf`) when there is an errno; else `argument` for EINVAL, E2BIG, ERANGE
   * and EOVERFLOW, `state` for ECLOSED, EBADSTATE, EBUSY and EROFS, and `bpfkit` for the rest.
   */
  origin?: ErrorOrigin | undefined
  cause?: unknown | undefined
}

/**
 * Any failure of a bpfkit call: a libbpf or kernel error, a bad argument, or a call in the wrong state.
 * The message's first line says what failed; the hint, when there is one, follows on its own line (and
 * is `hint`), so that a program can show them apart.
 */
export class BpfError extends Error {
  readonly code: BpfErrorCode
  readonly errno: number | undefined
  readonly op: string
  /** What to do about it, when bpfkit can tell (privileges, tracefs, BTF…). */
  readonly hint: string | undefined
  readonly origin: ErrorOrigin

  constructor(message: string, options: BpfErrorOptions) {
    const code = options.code ?? errnoName(options.errno)
    const hint = options.hint ?? hintFor(code, options.op)
    super(hint ? `${message}\n  hint: ${hint}` : message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.errno = options.errno
    this.op = options.op
    this.hint = hint
    this.origin = options.origin ?? originOf(code, options.errno)
  }
}

export interface VerifierErrorOptions extends BpfErrorOptions {
  /** The program the verifier rejected. */
  program: string
  /** The whole verifier log. */
  log: string
}

/**
 * The kernel's verifier rejected a program: `.log` has its whole log, the message its last lines, and
 * the hint says what the log's last complaint usually means.
 */
export class VerifierError extends BpfError {
  readonly program: string
  readonly log: string

  constructor(message: string, options: VerifierErrorOptions) {
    super(`${message}\n${lastLines(options.log, 6)}`, { ...options, hint: options.hint ?? verifierHint(options.log) })
    this.program = options.program
    this.log = options.log
  }
}

/** Without an errno, these codes are bpfkit's refusals of an argument, or of a call in the wrong state. */
const ARGUMENT_CODES: ReadonlySet<string> = new Set(['EINVAL', 'E2BIG', 'ERANGE', 'EOVERFLOW'])
const STATE_CODES: ReadonlySet<string> = new Set(['ECLOSED', 'EBADSTATE', 'EBUSY', 'EROFS'])

function originOf(code: BpfErrorCode, errno: number | undefined): ErrorOrigin {
  if (errno !== undefined) return (LIBBPF_CODES as readonly string[]).includes(code) ? 'libbpf' : 'kernel'
  return ARGUMENT_CODES.has(code) ? 'argument' : STATE_CODES.has(code) ? 'state' : 'bpfkit'
}

const ERRNO_NAMES = new Map<number, BpfErrorCode>(Object.entries(ERRNO).map(([name, value]) => [value, name as BpfErrorCode]))
ERRNO_NAMES.set(524, 'EOPNOTSUPP')

/** The code of an errno: its name, or EUNKNOWN. */
export function errnoName(errno: number | undefined): BpfErrorCode {
  return (errno !== undefined && ERRNO_NAMES.get(errno)) || 'EUNKNOWN'
}

/** A BpfError from a failed Node.js file system call (its errno, negative in Node, made positive). */
export function systemError(op: string, message: string, error: unknown, hint?: string): BpfError {
  const errno = (error as NodeJS.ErrnoException)?.errno
  return new BpfError(`${op}: ${message}: ${(error as NodeJS.ErrnoException)?.code ?? String(error)}`, {
    errno: typeof errno === 'number' ? Math.abs(errno) : undefined, code: typeof errno === 'number' ? undefined : 'EIO', op, hint, cause: error,
  })
}

/** An argument error raised by bpfkit before any syscall. */
export function invalidArgument(op: string, message: string, hint?: string): BpfError {
  return new BpfError(`${op}: ${message}`, { code: 'EINVAL', op, origin: 'argument', hint })
}

/**
 * @internal What `read()` returns, with what the caller's object throws while it is read (a revoked
 * proxy, a throwing getter) as a BpfError about `what`. BpfErrors pass through.
 */
export function reading<T>(op: string, what: string, read: () => T): T {
  try {
    return read()
  } catch (error) {
    if (error instanceof BpfError) throw error
    throw invalidArgument(op, `${what} ${unreadable(error)}`)
  }
}

/** @internal Whether `value` fits a __u64: a cookie, a perf event config, a map's map_extra. */
export function isU64(value: unknown): value is bigint {
  return typeof value === 'bigint' && value >= 0n && value < 1n << 64n
}

/** @internal The largest process (or thread) id a call takes: the kernel's FUTEX_TID_MASK. */
export const MAX_PID = 0x3fffffff

/**
 * @internal `value instanceof type`, and false where asking throws (a revoked proxy's prototype, a
 * getPrototypeOf trap): the caller's check then refuses the value as not one.
 */
export function isInstance<T>(value: unknown, type: Function & { prototype: T }): value is T {
  try {
    return value instanceof type
  } catch {
    return false
  }
}

/** @internal What to say of a value that threw `error` while it was read (a revoked proxy, a getter). */
export function unreadable(error: unknown): string {
  return `could not be read: ${error instanceof Error ? error.message : describe(error)}`
}

/**
 * @internal A public call's options object, read once into a plain one (its enumerable properties,
 * own and inherited), which the call then reads instead: a revoked proxy or a throwing getter is a
 * BpfError here, and no getter runs twice. Undefined stays undefined. With `known` (every option's
 * name, as a record that the options' type keeps whole), a name that is none of them is refused too:
 * a misspelt option would otherwise mean nothing.
 */
export function optionsOf<T extends object>(op: string, options: T | undefined, known?: Readonly<Record<keyof T, true>>): T | undefined {
  if (options === undefined) return undefined
  if (options === null || typeof options !== 'object') throw invalidArgument(op, `options must be an object, got ${describe(options)}`)
  const copy = reading(op, 'options', () => {
    const copy: Record<string, unknown> = {}
    for (const key in options) copy[key] = options[key]
    return copy as T
  })
  if (known !== undefined) {
    for (const key in copy) {
      if (!Object.hasOwn(known, key)) throw invalidArgument(op, `unknown option '${key}' (options: ${Object.keys(known).join(', ')})`)
    }
  }
  return copy
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

function lastLines(log: string, count: number): string {
  const lines = log.split('\n').filter((line) => line.trim() !== '')
  return lines.slice(-count).map((line) => `  | ${line}`).join('\n')
}

const PRIVILEGES =
  'run as root, or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8; CAP_NET_ADMIN for networking programs)'

/** Whether this process holds CAP_BPF or CAP_SYS_ADMIN (effective), as /proc/self/status says. */
function canUseBpf(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]
    const effective = BigInt(`0x${hex ?? '0'}`)
    return (effective & (1n << 39n)) !== 0n || (effective & (1n << 21n)) !== 0n
  } catch {
    return false
  }
}

function tracefsMounted(): boolean {
  return ['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'].some((dir) => fs.existsSync(dir))
}

/** Whether kprobes can be created: the kprobe PMU, or tracefs's kprobe_events (the legacy interface). */
function kprobesAvailable(): boolean {
  return ['/sys/bus/event_source/devices/kprobe', '/sys/kernel/tracing/kprobe_events', '/sys/kernel/debug/tracing/kprobe_events']
    .some((file) => fs.existsSync(file))
}

function hintFor(code: BpfErrorCode, op: string): string | undefined {
  if (op.startsWith('bpf_program__attach_kprobe') && !kprobesAvailable()) {
    return 'this kernel lacks CONFIG_KPROBES (no kprobe PMU and no kprobe_events in tracefs), so kprobes cannot attach here: use a tracepoint, raw tracepoint or fentry program instead'
  }
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      // Missing privileges are the likely cause only when they are missing.
      if (!canUseBpf()) return PRIVILEGES
      if (op.includes('pin') || op === 'bpf_obj_get') return 'pin paths must be on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)'
      if (code === 'EPERM' && (op === 'bpf_map_update_elem' || op === 'bpf_map_delete_elem' || op.endsWith('_batch'))) {
        return 'the map is read-only for user space: frozen (map.freeze(), as libbpf does to .rodata at load) or created with BPF_F_RDONLY'
      }
      return undefined
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
