// BpfProgram: one program of an object: its identity, autoload switch, attach calls and kernel info.
import type * as dgram from 'node:dgram'
import * as fs from 'node:fs'
import type * as net from 'node:net'
import { addon, type LinkHandle, type ProgramHandle } from './native'
import { BpfError, MAX_PID, describe, invalidArgument, isInstance, isU64, optionsOf, reading, systemError } from './errors'
import { Link, type LinkTarget } from './link'
import { findBinary, functionsOf, isIndirect, nearMatches } from './elf'
import { features, type AttachKind } from './probe'

/** @internal How a program hands its new links to the object that will close them. */
export type LinkTracker = (handle: LinkHandle, target: LinkTarget) => Link

export interface UprobeOptions {
  /** A path, a program in PATH, or a library name resolved like libbpf does (`libc.so.6`). */
  binary: string
  /** A function in the binary's symbol tables (`malloc`, `malloc@GLIBC_2.2.5`); `offset` is then added to it. */
  symbol?: string | undefined
  /** Without `symbol`: the file offset of the instruction to probe (for stripped binaries). */
  offset?: number | undefined
  /** Only this process (default: every process running the binary). */
  pid?: number | undefined
  /** Fire on return instead of entry (a uretprobe). */
  retprobe?: boolean | undefined
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint | undefined
}

export interface UprobeMultiOptions {
  /** A path, a program in PATH, or a library name resolved like libbpf does (`libc.so.6`). */
  binary: string
  /** Functions of the binary (its symbol tables)… */
  symbols?: readonly string[] | undefined
  /** …or a glob over them (`pthread_mutex_*`)… */
  pattern?: string | undefined
  /** …or file offsets of the instructions to probe. */
  offsets?: readonly number[] | undefined
  /** One cookie per symbol or offset, for bpf_get_attach_cookie(). */
  cookies?: readonly bigint[] | undefined
  /** Only this process (default: every process running the binary). */
  pid?: number | undefined
  /** Fire on return (uretprobes). */
  retprobe?: boolean | undefined
}

export interface UsdtOptions {
  /** A path, a program in PATH, or a library name (`libc.so.6`). */
  binary: string
  /** The probe's provider and name, as in `DTRACE_PROBE2(provider, name, …)`. */
  provider: string
  name: string
  /** Only this process (default: every process running the binary). */
  pid?: number | undefined
  /** A value the program reads with bpf_usdt_cookie(). */
  cookie?: bigint | undefined
}

export interface KprobeOptions {
  /** The kernel function (as in /proc/kallsyms). */
  symbol: string
  /** Offset into the function. */
  offset?: number | undefined
  /** Fire on return (a kretprobe). */
  retprobe?: boolean | undefined
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint | undefined
}

export interface KsyscallOptions {
  /** The syscall's name (`getppid`, `openat`): libbpf finds its handler, `__x64_sys_getppid` or the like. */
  syscall: string
  /** Fire on return (a kretprobe). */
  retprobe?: boolean | undefined
  /** A value the program reads with bpf_get_attach_cookie(). */
  cookie?: bigint | undefined
}

export interface KprobeMultiOptions {
  /** A glob over the kernel's traceable functions (`tcp_*`)… */
  pattern?: string | undefined
  /** …or the functions themselves. */
  symbols?: readonly string[] | undefined
  /** One cookie per symbol. */
  cookies?: readonly bigint[] | undefined
  retprobe?: boolean | undefined
}

export type XdpMode = 'skb' | 'drv' | 'hw'

export interface XdpOptions {
  /** skb (generic, any interface), drv (native, in the driver) or hw (offloaded); default: the kernel's choice. */
  mode?: XdpMode | undefined
  /**
   * Attach through netlink, replacing a program attached that way (e.g. by `ip link set … xdp`).
   * Default false: a BPF link, which fails with EBUSY when the interface already has an XDP program.
   */
  replace?: boolean | undefined
}

export interface TcOptions {
  direction: 'ingress' | 'egress'
  /**
   * The clsact filter's priority (1 runs first). tcx links have no priorities, so passing one selects
   * the clsact API.
   */
  priority?: number | undefined
  /** `tcx` links (Linux ≥ 6.6) or filters on the `clsact` qdisc; default tcx, falling back to clsact. */
  api?: 'tcx' | 'clsact' | undefined
}

export interface IterOptions {
  /** The map a `SEC("iter/bpf_map_elem")` program walks. */
  map?: { fd: number } | undefined
}

export interface CgroupOptions {
  /**
   * The attach type: libbpf's name (`cgroup_inet4_connect`) or the SEC() suffix (`connect4`, `ingress`,
   * `egress`, `sock_create`, `sysctl`, `getsockopt`, `dev`…). Default: the one the SEC() name implies.
   */
  type?: string | undefined
}

export interface PerfEventOptions {
  type: 'software' | 'hardware'
  /** The event: a name (`cpu-clock`, `cpu-cycles`…) or the perf_event_attr config number. */
  config: PerfEventName | number | bigint
  /** Run the program every N events… */
  samplePeriod?: number | undefined
  /** …or N times a second. */
  sampleFreq?: number | undefined
  /** One CPU (default: every online CPU, or any CPU when `pid` is given). */
  cpu?: number | undefined
  /** Only this process (default: every process). */
  pid?: number | undefined
  cookie?: bigint | undefined
}

export type PerfEventName = keyof typeof SOFTWARE_EVENTS | keyof typeof HARDWARE_EVENTS

const SOFTWARE_EVENTS = {
  'cpu-clock': 0, 'task-clock': 1, 'page-faults': 2, 'context-switches': 3, 'cpu-migrations': 4,
  'minor-faults': 5, 'major-faults': 6, 'alignment-faults': 7, 'emulation-faults': 8, dummy: 9,
} as const
const HARDWARE_EVENTS = {
  'cpu-cycles': 0, instructions: 1, 'cache-references': 2, 'cache-misses': 3, 'branch-instructions': 4,
  'branch-misses': 5, 'bus-cycles': 6, 'stalled-cycles-frontend': 7, 'stalled-cycles-backend': 8, 'ref-cpu-cycles': 9,
} as const

/** The largest fd or ifindex the kernel takes (a signed 32-bit int). */
const MAX_FD = 0x7fffffff

const CGROUP_PROGRAM_TYPES = ['cgroup_skb', 'cgroup_sock', 'cgroup_sock_addr', 'cgroup_sockopt', 'cgroup_sysctl', 'cgroup_device', 'sock_ops']

const XDP_FLAGS: Record<XdpMode, number> = { skb: 1 << 1, drv: 1 << 2, hw: 1 << 3 }

const CGROUP_TYPES: Record<string, string> = {
  ingress: 'cgroup_inet_ingress', egress: 'cgroup_inet_egress', sock_create: 'cgroup_inet_sock_create',
  sock_release: 'cgroup_inet_sock_release', sock_ops: 'cgroup_sock_ops', dev: 'cgroup_device', device: 'cgroup_device',
  bind4: 'cgroup_inet4_bind', bind6: 'cgroup_inet6_bind', connect4: 'cgroup_inet4_connect', connect6: 'cgroup_inet6_connect',
  post_bind4: 'cgroup_inet4_post_bind', post_bind6: 'cgroup_inet6_post_bind', sendmsg4: 'cgroup_udp4_sendmsg',
  sendmsg6: 'cgroup_udp6_sendmsg', recvmsg4: 'cgroup_udp4_recvmsg', recvmsg6: 'cgroup_udp6_recvmsg',
  getpeername4: 'cgroup_inet4_getpeername', getpeername6: 'cgroup_inet6_getpeername',
  getsockname4: 'cgroup_inet4_getsockname', getsockname6: 'cgroup_inet6_getsockname',
  sysctl: 'cgroup_sysctl', getsockopt: 'cgroup_getsockopt', setsockopt: 'cgroup_setsockopt',
}

/** The kernel's view of a loaded program (bpf_prog_get_info_by_fd), as `bpftool prog show` prints it. */
export interface ProgramInfo {
  id: number
  /** The program's tag: a hash of its instructions (hex). */
  tag: string
  /** libbpf's name of the program type. */
  type: string
  /** The name the kernel knows (the C function's, cut to 15 characters). */
  name: string
  /** Instructions after the verifier's rewrites (xlated). */
  instructions: number
  /** Bytes of JIT-compiled machine code (0 when the JIT is off). */
  jitedSize: number
  /** Instructions the verifier processed. */
  verifiedInstructions: number
  /** Runs counted while `kernel.bpf_stats_enabled` is on (see stats()). */
  runCount: bigint
  runTimeNs: bigint
  recursionMisses: bigint
  /** When it was loaded, in nanoseconds since boot. */
  loadTime: bigint
  /** Who loaded it. */
  uid: number
  /** The kernel's id of its BTF (0: none). */
  btfId: number
  /** The maps it uses. */
  mapIds: number[]
}

export interface ProgramStats {
  /** Whether `kernel.bpf_stats_enabled` is on; without it the kernel counts nothing. */
  enabled: boolean
  runCount: bigint
  runTimeNs: bigint
  /** runTimeNs / runCount, or 0. */
  averageNs: number
}

/**
 * A BPF program: one of an object's (`obj.program(name)`), or a loaded one opened on its own
 * (`BpfProgram.openPinned(path)`, `BpfProgram.fromId(id)`), which can fill a prog_array, replace the
 * program of a link (`link.update(program)`), be an attach target, and attach through bpf_link_create
 * (XDP, TC, cgroup, netns); close() releases it.
 */
export class BpfProgram implements Disposable {
  readonly #handle: ProgramHandle
  readonly #track: LinkTracker

  /** @internal Programs come from `BpfObject.programs`, `BpfProgram.openPinned` or `BpfProgram.fromId`. */
  constructor(handle: ProgramHandle, track?: LinkTracker) {
    this.#handle = handle
    this.#track = track ?? ((link, target) => new Link(link, undefined, target))
  }

  /** Opens a program pinned on bpffs (by `program.pin(path)` in this or any process). */
  static openPinned(path: string): BpfProgram {
    if (typeof path !== 'string' || path === '') throw invalidArgument('BpfProgram.openPinned', 'expected a path on bpffs')
    return new BpfProgram(new addon.BpfProgram({ pinned: path }))
  }

  /** Opens a loaded program by its id (as `bpftool prog list` and `bpfkit ps` show it). */
  static fromId(id: number): BpfProgram {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw invalidArgument('BpfProgram.fromId', 'expected a program id (a positive integer)')
    return new BpfProgram(new addon.BpfProgram({ id }))
  }

  /** Every program loaded in the kernel, system-wide (what `bpftool prog list` shows). */
  static list(): ProgramInfo[] {
    return addon.listPrograms()
  }

  /** @internal The native handle, for prog arrays, link updates and attach targets. */
  get handle(): ProgramHandle {
    return this.#handle
  }

  /** The C function's name. */
  get name(): string {
    return this.#handle.name
  }

  /** The SEC() name, e.g. `tracepoint/syscalls/sys_enter_execve`. */
  get section(): string {
    return this.#handle.section
  }

  /**
   * libbpf's name of the program type, e.g. `tracepoint`, `xdp`. Settable before load, for a SEC()
   * name that does not say (libbpf's bpf_program__set_type).
   */
  get type(): string {
    return this.#handle.type
  }

  set type(value: string) {
    if (typeof value !== 'string' || value === '') throw invalidArgument('program.type', "expected a program type such as 'xdp'")
    this.#handle.type = value
  }

  /** libbpf's name of the attach type the program is loaded for (e.g. `cgroup_inet_ingress`). Settable before load. */
  get expectedAttachType(): string {
    return this.#handle.expectedAttachType
  }

  set expectedAttachType(value: string) {
    if (typeof value !== 'string' || value === '') throw invalidArgument('program.expectedAttachType', "expected an attach type such as 'cgroup_inet_ingress'")
    this.#handle.expectedAttachType = value
  }

  /** BPF_F_* load flags (BPF_F_SLEEPABLE = 16, BPF_F_XDP_HAS_FRAGS = 32…). Settable before load. */
  get flags(): number {
    return this.#handle.flags
  }

  set flags(value: number) {
    this.#handle.flags = uint32('program.flags', 'flags', value)
  }

  /**
   * The verifier's log level for this program: 0 logs only on failure, 1 the instructions it checked,
   * 2 more, 4 statistics (bits). Settable before load; the log is then `verifierLog`.
   */
  get logLevel(): number {
    return this.#handle.logLevel
  }

  set logLevel(value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 7) throw invalidArgument('program.logLevel', 'logLevel must be an integer from 0 to 7 (bits 1, 2, 4)')
    this.#handle.logLevel = value
  }

  /**
   * What the verifier wrote at load: with `logLevel` (or the object's `kernelLogLevel`) set, the log of
   * a program that loaded; after a rejection, its log (the VerifierError has it too). Null otherwise.
   */
  get verifierLog(): string | null {
    return this.#handle.verifierLog
  }

  /** Whether load() loads this program. Settable before load. */
  get autoload(): boolean {
    return this.#handle.autoload
  }

  set autoload(value: boolean) {
    if (typeof value !== 'boolean') throw invalidArgument('program.autoload', 'autoload must be a boolean')
    this.#handle.autoload = value
  }

  /** The loaded program's file descriptor. */
  get fd(): number {
    return this.#handle.fd
  }

  /**
   * Before load: what an fentry, fexit, fmod_ret or LSM program attaches to instead of what its SEC()
   * name gives (a kernel function), or — with `target`, a loaded BpfProgram or a program's fd — a
   * function of that BPF program, for fentry/fexit on BPF programs and freplace (`SEC("freplace")`).
   */
  setAttachTarget(functionName: string): void
  setAttachTarget(target: BpfProgram | number, functionName: string): void
  setAttachTarget(first: string | BpfProgram | number, second?: string): void {
    const op = 'program.setAttachTarget'
    if (isInstance(first, BpfProgram) || typeof first === 'number') {
      if (typeof first === 'number' && !(Number.isInteger(first) && first > 0 && first <= 0x7fffffff)) {
        throw invalidArgument(op, `the target must be a BpfProgram or a program's fd, not ${describe(first)}`)
      }
      if (typeof second !== 'string' || second === '') throw invalidArgument(op, "expected the target program's function name")
      this.#handle.setAttachTarget(second, isInstance(first, BpfProgram) ? first.handle : first)
      return
    }
    if (typeof first !== 'string' || first === '') throw invalidArgument(op, 'expected a kernel function name, or a BpfProgram (or fd) and its function name')
    this.#handle.setAttachTarget(first)
  }

  /** Where the program is pinned by pin(), or null. */
  get pinPath(): string | null {
    return this.#handle.pinPath
  }

  /**
   * Pins the loaded program on bpffs, so it outlives this process (`BpfProgram.openPinned(path)` opens
   * it again, in any process).
   */
  pin(path: string): void {
    if (typeof path !== 'string' || path === '') throw invalidArgument('program.pin', 'expected a path on bpffs')
    this.#handle.pin(path)
  }

  /** Removes the pin made by pin(). */
  unpin(): void {
    this.#handle.unpin()
  }

  /** Releases a program opened with openPinned or fromId (an object's programs close with the object). Idempotent. */
  close(): void {
    this.#handle.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** The kernel's id of the loaded program (as bpftool prog shows it). */
  get id(): number {
    return this.#handle.info().id
  }

  /** The kernel's view of the loaded program: id, tag, type, instruction count, JIT-ed size, run stats. */
  info(): ProgramInfo {
    return this.#handle.info()
  }

  /**
   * How often the program ran and for how long. The kernel counts only while
   * `sysctl kernel.bpf_stats_enabled=1`; `enabled` says whether it is on.
   */
  stats(): ProgramStats {
    const { runCount, runTimeNs } = this.#handle.info()
    let enabled = false
    try {
      enabled = fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1'
    } catch {}
    return { enabled, runCount, runTimeNs, averageNs: runCount === 0n ? 0 : Number(runTimeNs) / Number(runCount) }
  }

  /** Refuses, before any syscall, a way to attach the kernel does not have (the kernel would say EINVAL or EPERM). */
  #requireAttach(op: string, kind: AttachKind, what: string, hint: string): void {
    if (features.attach(kind)) return
    throw new BpfError(`${op}: this kernel cannot attach ${what} (features.attach('${kind}') is false)`, { code: 'EOPNOTSUPP', op, hint })
  }

  /** Refuses a program of the wrong type before any syscall (the kernel would say only EINVAL). */
  #expectType(op: string, types: readonly string[]): void {
    const type = this.#handle.type
    if (types.includes(type)) return
    throw new BpfError(`${op}: program '${this.#handle.name}' is a ${type} program (SEC("${this.#handle.section}")); this method attaches ${types.join(' or ')} programs`, {
      code: 'EINVAL', op, hint: OTHER_CALLS[type],
    })
  }

  /**
   * Refuses a kprobe-type program whose SEC() is for another attach call than `op`'s (the kernel would
   * say only EINVAL, or a USDT program would run on a plain uprobe without its arguments).
   */
  #expectProbe(op: string, want: ProbeKind): void {
    const section = this.#handle.section
    const attachType = this.#handle.expectedAttachType
    const kind: ProbeKind = /^usdt(\.s)?(\/|$)/.test(section) ? 'usdt'
      : attachType === 'trace_uprobe_multi' ? 'uprobe.multi'
      : attachType === 'trace_kprobe_multi' ? 'kprobe.multi'
      : attachType === 'trace_kprobe_session' ? 'kprobe.session'
      : 'single'
    if (kind === want) return
    throw new BpfError(`${op}: program '${this.#handle.name}' is a ${kind === 'single' ? 'uprobe or kprobe' : kind} program (SEC("${section}")): attach it with ${PROBE_KINDS[kind].method}`, {
      code: 'EINVAL', op, hint: `to attach it with ${op.replace('program.', '')}(), declare it ${PROBE_KINDS[want].declare}`,
    })
  }

  #link(handle: LinkHandle, target: string): Link {
    return this.#track(handle, { program: this.#handle.name, target })
  }

  /** Attaches where the SEC() name says (libbpf's auto-attach). */
  attach(): Link {
    return this.#link(this.#handle.attach(), this.#handle.section)
  }

  /** Attaches to the tracepoint `category/name` (see /sys/kernel/tracing/events). */
  attachTracepoint(category: string, name: string): Link {
    if (typeof category !== 'string' || category === '' || typeof name !== 'string' || name === '') {
      throw invalidArgument('program.attachTracepoint', 'category and name must be non-empty strings')
    }
    this.#expectType('program.attachTracepoint', ['tracepoint'])
    return this.#link(this.#handle.attachTracepoint(category, name), `tracepoint ${category}/${name}`)
  }

  /**
   * Attaches a `raw_tp` program to the raw tracepoint `name` (e.g. `sched_switch`). A `tp_btf/NAME`
   * program is bound to its tracepoint at load: attach it with attach().
   */
  attachRawTracepoint(name: string): Link {
    if (typeof name !== 'string' || name === '') throw invalidArgument('program.attachRawTracepoint', 'name must be a non-empty string')
    this.#expectType('program.attachRawTracepoint', ['raw_tracepoint', 'raw_tracepoint_writable'])
    return this.#link(this.#handle.attachRawTracepoint(name), `raw_tracepoint ${name}`)
  }

  /**
   * Attaches a uprobe (or uretprobe) to a function of a user-space binary or library. A symbol that is
   * not found is an ENOENT error listing the nearest names the binary has.
   */
  attachUprobe(given: UprobeOptions): Link {
    const op = 'program.attachUprobe'
    this.#expectType(op, ['kprobe'])
    this.#expectProbe(op, 'single')
    const options = attachOptions(op, given, UPROBE_OPTIONS)
    const retprobe = checkFlag(op, 'retprobe', options.retprobe)
    const binary = checkBinary(op, options.binary)
    if (options.symbol !== undefined && (typeof options.symbol !== 'string' || options.symbol === '')) {
      throw invalidArgument(op, 'symbol must be a non-empty string')
    }
    if (options.symbol === undefined && options.offset === undefined) throw invalidArgument(op, 'give a symbol or an offset')
    const offset = checkInteger(op, 'offset', options.offset, 0, 0x7fffffff) ?? 0
    const pid = checkPid(op, options.pid)
    const cookie = checkCookie(op, options.cookie)
    const path = findBinary(binary, op)
    if (options.symbol !== undefined && !options.symbol.includes('@') && isIndirect(path, options.symbol)) {
      throw indirectFunction(op, path, options.symbol)
    }
    const hex = `0x${offset.toString(16)}`
    const where = `${path}:${options.symbol === undefined ? hex : offset === 0 ? options.symbol : `${options.symbol}+${hex}`}`
    try {
      const handle = this.#handle.attachUprobe(path, options.symbol ?? null, offset, pid, retprobe, cookie)
      return this.#link(handle, `${retprobe ? 'uretprobe' : 'uprobe'} ${where}${pid >= 0 ? ` (pid ${pid})` : ''}`)
    } catch (error) {
      if (error instanceof BpfError && error.code === 'ENOENT' && options.symbol !== undefined) throw symbolNotFound(op, path, options.symbol, error)
      throw error
    }
  }

  /**
   * Attaches a `uprobe.multi` program to many functions (or offsets) of one binary with one link
   * (Linux ≥ 6.6): `symbols`, a glob `pattern` over the binary's functions, or file `offsets`. A symbol
   * that is not found is ENOENT naming the nearest names the binary has.
   */
  attachUprobeMulti(given: UprobeMultiOptions): Link {
    const op = 'program.attachUprobeMulti'
    this.#expectType(op, ['kprobe'])
    this.#expectProbe(op, 'uprobe.multi')
    const options = attachOptions(op, given, UPROBE_MULTI_OPTIONS)
    const binary = checkBinary(op, options.binary)
    const { pattern } = options
    const [symbols, offsets, cookies] = (['symbols', 'offsets', 'cookies'] as const).map((key) => listOf(op, key, options[key])) as
      [string[] | undefined, number[] | undefined, bigint[] | undefined]
    const retprobe = checkFlag(op, 'retprobe', options.retprobe)
    if ([symbols, pattern, offsets].filter((given) => given !== undefined).length !== 1) {
      throw invalidArgument(op, 'give one of symbols, pattern or offsets')
    }
    if (symbols !== undefined && (!Array.isArray(symbols) || symbols.length === 0 || symbols.some((s) => typeof s !== 'string' || s === ''))) {
      throw invalidArgument(op, 'symbols must be a non-empty array of function names')
    }
    if (pattern !== undefined && (typeof pattern !== 'string' || pattern === '')) throw invalidArgument(op, 'pattern must be a non-empty glob')
    if (offsets !== undefined && (!Array.isArray(offsets) || offsets.length === 0 ||
      offsets.some((o) => !Number.isInteger(o) || o < 0 || o > 0x7fffffff))) {
      throw invalidArgument(op, 'offsets must be a non-empty array of file offsets')
    }
    if (cookies !== undefined && (pattern !== undefined || !Array.isArray(cookies) ||
      cookies.length !== (symbols ?? offsets)!.length || cookies.some((c) => !isU64(c)))) {
      throw invalidArgument(op, 'cookies must be one 64-bit bigint per symbol or offset (not with a pattern)')
    }
    const pid = checkPid(op, options.pid)
    const path = findBinary(binary, op)
    this.#requireAttach(op, 'uprobe_multi', 'uprobe.multi links', 'attach each function with attachUprobe() instead')
    let resolved: number[]
    if (offsets !== undefined) {
      resolved = [...offsets]
    } else {
      const functions = functionsOf(path)
      // A name that is an indirect function's is left out (or refused), even where an older version of
      // it is a plain function: its symbol is a resolver, which runs once, at load.
      const indirect = new Set(functions.filter((f) => f.ifunc).map((f) => f.name))
      if (symbols !== undefined) {
        const byName = new Map(functions.map((f) => [f.name, f]))
        resolved = symbols.map((symbol) => {
          const found = byName.get(symbol)
          if (found === undefined) throw symbolNotFound(op, path, symbol)
          if (indirect.has(symbol)) throw indirectFunction(op, path, symbol)
          return found.fileOffset
        })
      } else {
        const glob = new RegExp(`^${pattern!.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
        const matches = functions.filter((f) => glob.test(f.name))
        resolved = [...new Set(matches.filter((f) => !indirect.has(f.name)).map((f) => f.fileOffset))]
        if (resolved.length === 0) {
          if (matches.length > 0) throw indirectFunction(op, path, matches[0]!.name)
          throw new BpfError(`${op}: no function of ${path} matches '${pattern}'`, { code: 'ENOENT', op, hint: 'elfFunctions(path) lists them' })
        }
      }
    }
    const handle = this.#handle.attachUprobeMulti(path, resolved, pid, retprobe, cookies ?? null)
    const what = symbols?.join(',') ?? pattern ?? `${resolved.length} offsets`
    return this.#link(handle, `${retprobe ? 'uretprobe.multi' : 'uprobe.multi'} ${path}:${what}${pid >= 0 ? ` (pid ${pid})` : ''}`)
  }

  /** Attaches to a USDT probe (`provider:name`) of a binary; the program includes `<bpf/usdt.bpf.h>`. */
  attachUsdt(given: UsdtOptions): Link {
    const op = 'program.attachUsdt'
    this.#expectType(op, ['kprobe'])
    this.#expectProbe(op, 'usdt')
    const options = attachOptions(op, given, USDT_OPTIONS)
    const binary = checkBinary(op, options.binary)
    for (const key of ['provider', 'name'] as const) {
      if (typeof options[key] !== 'string' || options[key] === '') throw invalidArgument(op, `${key} must be a non-empty string`)
    }
    const pid = checkPid(op, options.pid)
    const path = findBinary(binary, op)
    const handle = this.#handle.attachUsdt(path, options.provider, options.name, pid, checkCookie(op, options.cookie))
    return this.#link(handle, `usdt ${path}:${options.provider}:${options.name}${pid >= 0 ? ` (pid ${pid})` : ''}`)
  }

  /**
   * Attaches a kprobe (or kretprobe) to a kernel function. On a kernel without CONFIG_KPROBES this
   * throws a BpfError whose hint says so.
   */
  attachKprobe(given: KprobeOptions): Link {
    const op = 'program.attachKprobe'
    this.#expectType(op, ['kprobe'])
    this.#expectProbe(op, 'single')
    const options = attachOptions(op, given, KPROBE_OPTIONS)
    if (typeof options.symbol !== 'string' || options.symbol === '') throw invalidArgument(op, 'symbol must be a non-empty string')
    const offset = checkInteger(op, 'offset', options.offset, 0, 0x7fffffff) ?? 0
    const retprobe = checkFlag(op, 'retprobe', options.retprobe)
    const handle = this.#handle.attachKprobe(options.symbol, offset, retprobe, checkCookie(op, options.cookie))
    return this.#link(handle, `${retprobe ? 'kretprobe' : 'kprobe'} ${options.symbol}${offset ? `+0x${offset.toString(16)}` : ''}`)
  }

  /**
   * Attaches a kprobe (or kretprobe) to a syscall's handler by the syscall's name, on any architecture
   * (SEC("ksyscall/NAME") programs read the syscall's arguments with BPF_KSYSCALL).
   */
  attachKsyscall(given: KsyscallOptions): Link {
    const op = 'program.attachKsyscall'
    this.#expectType(op, ['kprobe'])
    this.#expectProbe(op, 'single')
    const options = attachOptions(op, given, KSYSCALL_OPTIONS)
    if (typeof options.syscall !== 'string' || options.syscall === '') throw invalidArgument(op, 'syscall must be a non-empty string')
    const retprobe = checkFlag(op, 'retprobe', options.retprobe)
    // A ksyscall is a kprobe on the syscall's handler: without kprobes libbpf would only say ENOENT.
    this.#requireAttach(op, 'kprobe', 'ksyscall programs, which are kprobes on the syscall handlers',
      'this kernel lacks CONFIG_KPROBES: use a tracepoint (SEC("tracepoint/syscalls/sys_enter_NAME")) or a raw tracepoint on sys_enter instead')
    const handle = this.#handle.attachKsyscall(options.syscall, retprobe, checkCookie(op, options.cookie))
    return this.#link(handle, `${retprobe ? 'kretsyscall' : 'ksyscall'} ${options.syscall}`)
  }

  /**
   * Attaches a `kprobe.multi` program to many kernel functions at once (a glob, or a list). Needs a
   * kernel with fprobes (CONFIG_FPROBE, Linux ≥ 5.18); elsewhere it throws EOPNOTSUPP saying so.
   */
  attachKprobeMulti(given: KprobeMultiOptions): Link {
    const op = 'program.attachKprobeMulti'
    this.#expectType(op, ['kprobe'])
    this.#expectProbe(op, 'kprobe.multi')
    const options = attachOptions(op, given, KPROBE_MULTI_OPTIONS)
    const { pattern } = options
    const symbols = listOf(op, 'symbols', options.symbols) as string[] | undefined
    const cookies = listOf(op, 'cookies', options.cookies) as bigint[] | undefined
    const retprobe = checkFlag(op, 'retprobe', options.retprobe)
    if ((pattern === undefined) === (symbols === undefined)) throw invalidArgument(op, 'give a pattern or symbols, not both')
    if (pattern !== undefined && (typeof pattern !== 'string' || pattern === '')) throw invalidArgument(op, 'pattern must be a non-empty string')
    if (symbols !== undefined && (!Array.isArray(symbols) || symbols.length === 0 || symbols.some((s) => typeof s !== 'string' || s === ''))) {
      throw invalidArgument(op, 'symbols must be a non-empty array of function names')
    }
    if (cookies !== undefined && (symbols === undefined || !Array.isArray(cookies) || cookies.length !== symbols.length || cookies.some((c) => !isU64(c)))) {
      throw invalidArgument(op, 'cookies must be one 64-bit unsigned bigint per symbol')
    }
    if (!features.attach('kprobe_multi')) {
      throw new BpfError(`${op}: this kernel has no kprobe.multi links: they need CONFIG_FPROBE (Linux ≥ 5.18)`, {
        code: 'EOPNOTSUPP', op,
        hint: 'attach each function with attachKprobe({ symbol }) instead (see: bpfkit doctor)',
      })
    }
    const handle = this.#handle.attachKprobeMulti(pattern ?? null, symbols ?? null, retprobe, cookies ?? null)
    return this.#link(handle, `${retprobe ? 'kretprobe.multi' : 'kprobe.multi'} ${pattern ?? symbols!.join(',')}`)
  }

  /**
   * Attaches an XDP program to a network interface (by name or index): as a BPF link by default, or
   * through netlink with `replace: true`.
   */
  attachXdp(iface: string | number, given: XdpOptions = {}): Link {
    const op = 'program.attachXdp'
    this.#expectType(op, ['xdp'])
    const options = attachOptions(op, given, XDP_OPTIONS)
    const { ifindex, name } = interfaceOf(op, iface)
    if (options.mode !== undefined && (typeof options.mode !== 'string' || !Object.hasOwn(XDP_FLAGS, options.mode))) {
      throw invalidArgument(op, "mode must be 'skb', 'drv' or 'hw'")
    }
    const flags = options.mode === undefined ? 0 : XDP_FLAGS[options.mode]
    const target = `xdp ${name}${options.mode ? ` (${options.mode})` : ''}`
    if (checkFlag(op, 'replace', options.replace)) {
      try {
        return this.#link(this.#handle.attachXdpNetlink(ifindex, flags), target)
      } catch (error) {
        // The kernel's words for what netlink cannot replace: another mode's program, or a link's.
        if (!(error instanceof BpfError)) throw error
        const hint = error.code === 'EEXIST'
          ? `${name} has an XDP program in another mode (skb, drv or hw): pass its mode, or detach it first (ip link set dev ${name} xdp off)`
          : error.code === 'EBUSY'
            ? `${name}'s XDP program is held by a BPF link, which netlink cannot replace: close that link, or swap its program with link.update()`
            : undefined
        if (hint === undefined) throw error
        throw new BpfError(`${op}: cannot replace the XDP program of ${name}: ${error.message}`, {
          code: error.code, errno: error.errno, op: error.op, cause: error, hint,
        })
      }
    }
    try {
      return this.#link(this.#handle.linkCreate(ifindex, 'xdp', flags), target)
    } catch (error) {
      if (error instanceof BpfError && (error.code === 'EBUSY' || error.code === 'EEXIST')) {
        throw new BpfError(`${op}: ${name} already has an XDP program`, {
          code: 'EBUSY', errno: error.errno, op: 'bpf_link_create', cause: error,
          hint: 'detach it (ip link set dev IFACE xdp off, or close its link), or pass { replace: true } to replace a netlink-attached one',
        })
      }
      throw error
    }
  }

  /**
   * Attaches a TC (`sched_cls`) program to an interface's ingress or egress: a tcx link where the
   * kernel has tcx (Linux ≥ 6.6), a direct-action filter on the clsact qdisc otherwise. A clsact qdisc
   * bpfkit had to create is removed when its last bpfkit filter is closed.
   */
  attachTc(iface: string | number, given: TcOptions): Link {
    const op = 'program.attachTc'
    this.#expectType(op, ['sched_cls'])
    const options = attachOptions(op, given, TC_OPTIONS)
    const { ifindex, name } = interfaceOf(op, iface)
    if (options.direction !== 'ingress' && options.direction !== 'egress') throw invalidArgument(op, "direction must be 'ingress' or 'egress'")
    const priority = checkInteger(op, 'priority', options.priority, 1, 0xffff)
    if (options.api !== undefined && options.api !== 'tcx' && options.api !== 'clsact') throw invalidArgument(op, "api must be 'tcx' or 'clsact'")
    if (options.api === 'tcx' && priority !== undefined) throw invalidArgument(op, 'tcx links have no priority: drop it, or use api: clsact')
    const clsact = () => this.#link(this.#handle.attachTcClsact(ifindex, options.direction === 'egress', priority ?? 0, 0),
      `tc ${name} ${options.direction} (clsact${priority === undefined ? '' : `, priority ${priority}`})`)
    if (options.api === 'clsact' || priority !== undefined) return clsact()
    if (!features.attach('tcx')) {
      if (options.api === undefined) return clsact()
      throw new BpfError(`${op}: this kernel has no tcx links: they need Linux ≥ 6.6`, {
        code: 'EOPNOTSUPP', op, hint: "use { api: 'clsact' }, or leave api out to get clsact where there is no tcx",
      })
    }
    return this.#link(this.#handle.linkCreate(ifindex, `tcx_${options.direction}`, 0), `tc ${name} ${options.direction} (tcx)`)
  }

  /**
   * Attaches a socket filter to a socket: a bound Node `dgram.Socket`, a connected `net.Socket`, or a
   * raw socket fd. Closing the link detaches it (if the socket is still open).
   */
  attachSocketFilter(socket: number | net.Socket | dgram.Socket): Link {
    const op = 'program.attachSocketFilter'
    this.#expectType(op, ['socket_filter'])
    let fd: unknown = socket
    if (typeof socket === 'object' && socket !== null) {
      fd = socketHandle(socket)?.fd
      if (typeof fd !== 'number' || fd < 0) throw invalidArgument(op, 'the socket has no descriptor yet: bind (dgram) or connect (net) it first')
    }
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > MAX_FD) throw invalidArgument(op, 'expected a Node socket or a socket fd')
    return this.#link(this.#handle.attachSocket(fd), `socket fd ${fd}`)
  }

  /** Attaches a cgroup program (skb, sock, sock_addr, sockopt, sysctl, device) to a cgroup v2 directory or fd. */
  attachCgroup(cgroup: string | number, given: CgroupOptions = {}): Link {
    const op = 'program.attachCgroup'
    this.#expectType(op, CGROUP_PROGRAM_TYPES)
    const options = attachOptions(op, given, CGROUP_OPTIONS)
    if (options.type !== undefined && typeof options.type !== 'string') throw invalidArgument(op, 'type must be a string')
    const type = options.type === undefined ? undefined : Object.hasOwn(CGROUP_TYPES, options.type) ? CGROUP_TYPES[options.type]! : options.type
    if (type !== undefined && !type.startsWith('cgroup_')) {
      throw invalidArgument(op, `unknown cgroup attach type '${options.type}' (e.g. ${Object.keys(CGROUP_TYPES).slice(0, 8).join(', ')}…)`)
    }
    let fd: number
    let opened = false
    if (typeof cgroup === 'string' && cgroup !== '') {
      try {
        fd = fs.openSync(cgroup, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
      } catch (error) {
        throw systemError(op, `cannot open cgroup ${cgroup}`, error,
          (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'give a cgroup v2 directory, e.g. /sys/fs/cgroup/my.slice' : undefined)
      }
      opened = true
      if (fs.statfsSync(cgroup).type !== CGROUP2_SUPER_MAGIC) {
        fs.closeSync(fd)
        throw invalidArgument(op, `${cgroup} is not a cgroup v2 directory`,
          'cgroup programs attach to cgroup v2: a directory under the cgroup2 mount (grep cgroup2 /proc/mounts)')
      }
    } else if (typeof cgroup === 'number' && Number.isInteger(cgroup) && cgroup >= 0 && cgroup <= MAX_FD) {
      fd = cgroup
    } else {
      throw invalidArgument(op, 'expected a cgroup directory path or fd')
    }
    try {
      const attachType = type ?? this.#handle.expectedAttachType
      const handle = this.#handle.linkCreate(fd, attachType, 0)
      return this.#link(handle, `cgroup ${typeof cgroup === 'string' ? cgroup : `fd ${cgroup}`} (${attachType})`)
    } finally {
      if (opened) fs.closeSync(fd)
    }
  }

  /**
   * Attaches an `sk_lookup` or `flow_dissector` program to a network namespace: a path such as
   * `/var/run/netns/NAME` or `/proc/PID/ns/net`, or an fd (default: this process's namespace). The
   * link is a netns link: it can be pinned, updated and detached.
   */
  attachNetns(netns: string | number = '/proc/self/ns/net'): Link {
    const op = 'program.attachNetns'
    this.#expectType(op, ['sk_lookup', 'flow_dissector'])
    const attachType = this.#handle.type === 'sk_lookup' ? 'sk_lookup' : 'flow_dissector'
    let fd: number
    let opened = false
    if (typeof netns === 'string' && netns !== '') {
      try {
        fd = fs.openSync(netns, fs.constants.O_RDONLY)
      } catch (error) {
        throw systemError(op, `cannot open network namespace ${netns}`, error,
          'give a namespace file: /var/run/netns/NAME (ip netns add NAME) or /proc/PID/ns/net')
      }
      opened = true
    } else if (typeof netns === 'number' && Number.isInteger(netns) && netns >= 0 && netns <= MAX_FD) {
      fd = netns
    } else {
      throw invalidArgument(op, 'expected a network namespace path or fd')
    }
    try {
      return this.#link(this.#handle.linkCreate(fd, attachType, 0), `netns ${typeof netns === 'string' ? netns : `fd ${netns}`} (${attachType})`)
    } finally {
      if (opened) fs.closeSync(fd)
    }
  }

  /**
   * Opens perf events (one per online CPU unless `cpu` or `pid` narrows it) and attaches the program
   * to each; `samplePeriod` or `sampleFreq` says how often it runs.
   */
  attachPerfEvent(given: PerfEventOptions): Link {
    const op = 'program.attachPerfEvent'
    this.#expectType(op, ['perf_event'])
    const options = attachOptions(op, given, PERF_EVENT_OPTIONS)
    const table = options.type === 'software' ? SOFTWARE_EVENTS : options.type === 'hardware' ? HARDWARE_EVENTS : undefined
    if (table === undefined) throw invalidArgument(op, "type must be 'software' or 'hardware'")
    let config: bigint
    if (typeof options.config === 'string') {
      const value = Object.hasOwn(table, options.config) ? (table as Record<string, number>)[options.config] : undefined
      if (value === undefined) throw invalidArgument(op, `unknown ${options.type} event '${options.config}' (${Object.keys(table).join(', ')})`)
      config = BigInt(value)
    } else if (isU64(options.config)) {
      config = options.config
    } else if (typeof options.config === 'number' && Number.isSafeInteger(options.config) && options.config >= 0) {
      config = BigInt(options.config)
    } else {
      throw invalidArgument(op, 'config must be an event name or an integer from 0 to 2^64 - 1 (a bigint above 2^53)')
    }
    if ((options.samplePeriod === undefined) === (options.sampleFreq === undefined)) throw invalidArgument(op, 'give samplePeriod or sampleFreq')
    const frequency = options.sampleFreq !== undefined
    const sample = checkInteger(op, frequency ? 'sampleFreq' : 'samplePeriod', frequency ? options.sampleFreq : options.samplePeriod, 1, Number.MAX_SAFE_INTEGER)!
    const cpu = checkInteger(op, 'cpu', options.cpu, 0, 0xffff)
    const pid = checkPid(op, options.pid)
    const cpus = cpu !== undefined ? [cpu] : pid >= 0 ? [-1] : onlineCpus()
    const handle = this.#handle.attachPerfEvent(options.type === 'software' ? 1 : 0, config, sample, frequency, cpus, pid,
      checkCookie(op, options.cookie))
    const rate = frequency ? `${sample} Hz` : `every ${sample}`
    return this.#link(handle, `perf_event ${options.type}/${options.config} ${rate} on ${cpu !== undefined ? `cpu ${cpu}` : pid >= 0 ? `pid ${pid}` : `${cpus.length} cpus`}`)
  }

  /**
   * Attaches an fentry/fexit/fmod_ret program to the kernel function its SEC() name gives (or
   * setAttachTarget named), or a `tp_btf` program to its tracepoint.
   */
  attachFentry(): Link {
    const op = 'program.attachFentry'
    this.#expectType(op, ['tracing'])
    const attach = this.#handle.expectedAttachType
    const kind: AttachKind = attach === 'trace_raw_tp' ? 'tp_btf' : attach === 'trace_fexit' ? 'fexit' : attach === 'modify_return' ? 'fmod_ret' : 'fentry'
    if (kind !== 'tp_btf') this.#requireAttach(op, kind, `${kind} programs`, TRAMPOLINES)
    return this.#link(this.#handle.attachTrace(), this.#handle.section)
  }

  /** Attaches an LSM program to the security hook its SEC() name gives. */
  attachLsm(): Link {
    this.#expectType('program.attachLsm', ['lsm'])
    this.#requireAttach('program.attachLsm', 'lsm', 'LSM programs', "needs CONFIG_BPF_LSM and 'bpf' in the lsm= boot list, plus kernel BTF (see: bpfkit doctor)")
    return this.#link(this.#handle.attachLsm(), this.#handle.section)
  }

  /**
   * Attaches a BPF iterator (`SEC("iter/…")`), optionally over one map (`SEC("iter/bpf_map_elem")`).
   * `link.open()` then reads its output, one pass per call.
   */
  attachIter(given: IterOptions = {}): Link {
    const op = 'program.attachIter'
    const options = attachOptions(op, given, ITER_OPTIONS)
    const mapFd = reading(op, 'map', () => (options.map === undefined ? -1 : options.map?.fd))
    if (typeof mapFd !== 'number' || !Number.isInteger(mapFd) || mapFd < -1 || mapFd > MAX_FD) throw invalidArgument(op, 'map must be a BpfMap')
    this.#requireAttach(op, 'iter', 'BPF iterators', 'needs Linux ≥ 5.8 with kernel BTF (see: bpfkit doctor)')
    return this.#link(this.#handle.attachIter(mapFd), this.#handle.section)
  }

  /**
   * Runs the program once (or `repeat` times) in the kernel on the given input, without attaching it
   * (BPF_PROG_TEST_RUN): XDP, TC and socket programs take packet `data` (and optionally `ctx`); raw
   * tracepoint and `syscall` programs take only `ctx` and refuse `repeat` — a `syscall` program writes
   * its results back into the `ctx` buffer itself. Returns the program's return value and what it left
   * in the packet (and in the context, with `ctxOutSize`).
   */
  testRun(given?: TestRunOptions): TestRunResult {
    const op = 'program.testRun'
    const options = optionsOf(op, given) ?? {}
    for (const key of ['data', 'ctx'] as const) {
      if (options[key] !== undefined && !isInstance(options[key], Uint8Array)) throw invalidArgument(op, `${key} must be a Uint8Array`)
    }
    for (const key of ['repeat', 'dataOutSize', 'ctxOutSize'] as const) {
      const value = options[key]
      if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xffffffff)) {
        throw invalidArgument(op, `${key} must be a non-negative 32-bit integer`)
      }
    }
    const dataOutSize = options.dataOutSize ?? (options.data === undefined ? 0 : options.data.length + 256)
    const result = this.#handle.testRun(options.data ?? null, options.ctx ?? null, options.repeat ?? 0, dataOutSize,
      options.ctxOutSize ?? 0)
    return {
      retval: result.retval,
      duration: result.duration,
      ...(result.data === null ? {} : { data: result.data }),
      ...(result.ctx === null ? {} : { ctx: result.ctx }),
    }
  }
}

export interface TestRunOptions {
  /** Packet data for XDP, TC and socket filter programs. */
  data?: Uint8Array | undefined
  /** The context: raw tracepoint arguments, a `syscall` program's argument struct, an xdp_md… */
  ctx?: Uint8Array | undefined
  /** Runs this many times (the duration is then the average); default once. */
  repeat?: number | undefined
  /** Room for the output packet (default: the input's size + 256; at most 1 MiB). */
  dataOutSize?: number | undefined
  /** Room for the output context (XDP, TC…; default none; at most 1 MiB). */
  ctxOutSize?: number | undefined
}

export interface TestRunResult {
  /** The program's return value (as a signed 32-bit integer). */
  retval: number
  /** Average run time in nanoseconds. */
  duration: number
  /** The packet as the program left it. */
  data?: Buffer
  /** The context as the program left it. */
  ctx?: Buffer
}

const CGROUP2_SUPER_MAGIC = 0x63677270

const TRAMPOLINES = 'needs BPF trampolines: CONFIG_DEBUG_INFO_BTF and a JIT with trampolines (x86-64, arm64 ≥ 6.0) (see: bpfkit doctor)'

function uint32(op: string, what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalidArgument(op, `${what} must be a 32-bit unsigned integer`)
  }
  return value
}

/** Where a program type that another call attaches is told to go. */
const OTHER_CALLS: Readonly<Record<string, string>> = {
  ext: 'a freplace program attaches with attach() after setAttachTarget(program, function) before load',
  lsm: 'attach it with attachLsm()',
  tracing: 'attach it with attachFentry() (fentry, fexit, fmod_ret, tp_btf) or attach()',
  kprobe: 'attach it with attachKprobe(), attachUprobe(), attachUsdt() or the .multi calls, as its SEC() says',
  tracepoint: 'attach it with attachTracepoint(category, name), or attach() when its SEC() names one',
}

/** The attach calls of kprobe-type programs, by what their SEC() makes them. */
type ProbeKind = 'single' | 'usdt' | 'uprobe.multi' | 'kprobe.multi' | 'kprobe.session'

const PROBE_KINDS: Record<ProbeKind, { method: string; declare: string }> = {
  'single': { method: 'attachUprobe(), attachKprobe() or attachKsyscall()', declare: 'SEC("uprobe"), SEC("kprobe") or SEC("ksyscall") (or a ret form)' },
  'usdt': { method: 'attachUsdt()', declare: 'SEC("usdt") and read its arguments with BPF_USDT (#include <bpf/usdt.bpf.h>)' },
  'uprobe.multi': { method: 'attachUprobeMulti()', declare: 'SEC("uprobe.multi") or SEC("uretprobe.multi")' },
  'kprobe.multi': { method: 'attachKprobeMulti()', declare: 'SEC("kprobe.multi") or SEC("kretprobe.multi")' },
  'kprobe.session': { method: 'attach() (libbpf attaches SEC("kprobe.session/PATTERN") by its pattern)', declare: 'SEC("kprobe.session/PATTERN")' },
}

/** An attach call's options, read once and checked against the names its type has (see optionsOf). */
function attachOptions<T extends object>(op: string, options: T | undefined, known: Readonly<Record<keyof T, true>>): T {
  const copy = optionsOf(op, options, known)
  if (copy === undefined) throw invalidArgument(op, 'options must be an object')
  return copy
}

const UPROBE_OPTIONS: Record<keyof UprobeOptions, true> = { binary: true, symbol: true, offset: true, pid: true, retprobe: true, cookie: true }
const UPROBE_MULTI_OPTIONS: Record<keyof UprobeMultiOptions, true> = {
  binary: true, symbols: true, pattern: true, offsets: true, cookies: true, pid: true, retprobe: true,
}
const USDT_OPTIONS: Record<keyof UsdtOptions, true> = { binary: true, provider: true, name: true, pid: true, cookie: true }
const KPROBE_OPTIONS: Record<keyof KprobeOptions, true> = { symbol: true, offset: true, retprobe: true, cookie: true }
const KSYSCALL_OPTIONS: Record<keyof KsyscallOptions, true> = { syscall: true, retprobe: true, cookie: true }
const KPROBE_MULTI_OPTIONS: Record<keyof KprobeMultiOptions, true> = { pattern: true, symbols: true, cookies: true, retprobe: true }
const XDP_OPTIONS: Record<keyof XdpOptions, true> = { mode: true, replace: true }
const TC_OPTIONS: Record<keyof TcOptions, true> = { direction: true, priority: true, api: true }
const CGROUP_OPTIONS: Record<keyof CgroupOptions, true> = { type: true }
const PERF_EVENT_OPTIONS: Record<keyof PerfEventOptions, true> = {
  type: true, config: true, samplePeriod: true, sampleFreq: true, cpu: true, pid: true, cookie: true,
}
const ITER_OPTIONS: Record<keyof IterOptions, true> = { map: true }

/** An array option, copied once (a proxy or a getter that throws is a BpfError); anything else as given, for its check to refuse. */
function listOf(op: string, key: string, value: unknown): unknown {
  return reading(op, key, () => (Array.isArray(value) ? [...(value as unknown[])] : value))
}

function checkFlag(op: string, key: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalidArgument(op, `${key} must be true or false, got ${describe(value)}`)
  return value
}

function checkBinary(op: string, binary: unknown): string {
  if (typeof binary !== 'string' || binary === '') throw invalidArgument(op, 'binary must be a path or a library name')
  return binary
}

function checkInteger(op: string, key: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(op, `${key} must be an integer from ${min} to ${max}`)
  }
  return value
}

function checkPid(op: string, pid: unknown): number {
  return checkInteger(op, 'pid', pid, 1, MAX_PID) ?? -1
}

function checkCookie(op: string, cookie: unknown): bigint {
  if (cookie === undefined) return 0n
  if (!isU64(cookie)) throw invalidArgument(op, 'cookie must be a 64-bit unsigned bigint')
  return cookie
}

function interfaceOf(op: string, iface: unknown): { ifindex: number; name: string } {
  if (typeof iface === 'number' && Number.isInteger(iface) && iface > 0 && iface <= MAX_FD) return { ifindex: iface, name: `ifindex ${iface}` }
  if (typeof iface !== 'string' || iface === '') throw invalidArgument(op, 'expected an interface name or index')
  const ifindex = addon.ifNameToIndex(iface)
  if (ifindex === 0) {
    throw new BpfError(`${op}: no network interface named '${iface}' in this network namespace`, {
      code: 'ENODEV', op, hint: 'list them with: ip -brief link',
    })
  }
  return { ifindex, name: iface }
}

function onlineCpus(): number[] {
  const cpus: number[] = []
  for (const range of fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
    const [first, last = first] = range.split('-').map(Number)
    for (let cpu = first!; cpu <= last!; cpu++) cpus.push(cpu)
  }
  return cpus
}


function symbolNotFound(op: string, binary: string, symbol: string, cause?: BpfError): BpfError {
  let near: string[] = []
  try {
    const functions = functionsOf(binary)
    // libbpf looks only at STT_FUNC symbols: memcpy@@GLIBC_2.14 is not found.
    if (isIndirect(binary, symbol.split('@')[0]!)) return indirectFunction(op, binary, symbol)
    near = nearMatches(symbol, functions.map((s) => s.name))
  } catch {}
  return new BpfError(`${op}: no function '${symbol}' in ${binary}`, {
    code: 'ENOENT', errno: cause?.errno, op: cause?.op ?? op, cause,
    hint: near.length > 0 ? `did you mean: ${near.join(', ')}?` : 'the binary has no such symbol; for a stripped binary give { offset }',
  })
}

/** A uprobe on an indirect function's symbol would run its resolver, once, when the binary is loaded. */
function indirectFunction(op: string, binary: string, symbol: string): BpfError {
  return new BpfError(`${op}: '${symbol}' in ${binary} is a GNU indirect function (IFUNC): its symbol is the resolver that picks an implementation when the binary is loaded, not the code that runs`, {
    code: 'EINVAL', op,
    hint: 'attach to the implementation it picks: by its symbol where the binary has one (e.g. from debug symbols), or by { offset }',
  })
}

/** A Node socket's libuv handle: net.Socket's `_handle`, or dgram.Socket's state (whose `_handle` getter is deprecated). */
function socketHandle(socket: object): { fd?: number } | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol')
  if (state !== undefined) return (socket as Record<symbol, { handle?: { fd?: number } }>)[state]?.handle
  return (socket as { _handle?: { fd?: number } })._handle
}
