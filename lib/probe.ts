// Probes: what the running kernel supports — program types, map types, helpers and attach types — each
// asked of the kernel once, when first needed, and remembered (native/probe.cc).
import * as fs from 'node:fs'
import { addon } from './native'
import { invalidArgument } from './errors'

/**
 * Ways to attach that a kernel may lack while it has their program type: `tp_btf`, `iter` (BTF-typed
 * tracing programs), `fentry`, `fexit`, `fmod_ret` and `lsm` (BPF trampolines), `kprobe` and `uprobe`
 * (their perf PMUs), `kprobe_multi` (fprobes, Linux ≥ 5.18), `uprobe_multi` (Linux ≥ 6.6), `tcx`
 * (Linux ≥ 6.6) and `struct_ops`.
 */
export type AttachKind = (typeof ATTACH_KINDS)[number]

export const ATTACH_KINDS = [
  'tp_btf', 'iter', 'fentry', 'fexit', 'fmod_ret', 'lsm', 'kprobe', 'uprobe', 'kprobe_multi', 'uprobe_multi', 'tcx', 'struct_ops',
] as const

/** Attach kinds a tiny program (loaded and linked for an instant) finds out. */
const LINKED: ReadonlySet<string> = new Set(['tp_btf', 'iter', 'fentry', 'fexit', 'fmod_ret', 'lsm', 'kprobe_multi', 'uprobe_multi', 'tcx'])

/** The helpers bpfkit and bpfkit.bpf.h use, which doctor and probeKernel() report for tracepoint programs. */
const BPFKIT_HELPERS = [
  'map_lookup_elem', 'map_update_elem', 'ringbuf_reserve', 'ringbuf_submit', 'ringbuf_output', 'ringbuf_query',
  'perf_event_output', 'get_current_pid_tgid', 'get_current_comm', 'get_current_task', 'probe_read_kernel',
  'probe_read_user_str', 'loop', 'user_ringbuf_drain', 'tail_call',
]

const cache = new Map<string, boolean>()
let names: { programTypes: string[]; mapTypes: string[]; helpers: string[] } | undefined

function known(op: string, what: string, list: readonly string[], name: unknown): string {
  if (typeof name !== 'string' || !list.includes(name)) {
    throw invalidArgument(op, `unknown ${what} ${typeof name === 'string' ? `'${name}'` : String(typeof name)} (e.g. ${list.slice(0, 6).join(', ')}…)`)
  }
  return name
}

function cached(key: string, probe: () => boolean): boolean {
  let found = cache.get(key)
  if (found === undefined) {
    found = probe()
    cache.set(key, found)
  }
  return found
}

function probeNames(): NonNullable<typeof names> {
  names ??= addon.probeNames()
  return names
}

function exists(files: readonly string[]): boolean {
  return files.some((file) => fs.existsSync(file))
}

/**
 * Single questions to the running kernel, each probed once per process and then remembered. Without
 * privileges every probe says false.
 */
export const features = {
  /**
   * Whether the kernel loads programs of this type (libbpf's name: `tracepoint`, `xdp`, `tracing`…).
   * libbpf probes `tracing` with an fentry program, which needs trampolines: here it is also true when
   * `tp_btf` or iterator programs load.
   */
  programType(name: string): boolean {
    const type = known('features.programType', 'program type', probeNames().programTypes, name)
    return cached(`program ${type}`, () => addon.probeProgramType(type) || (type === 'tracing' && (features.attach('tp_btf') || features.attach('iter'))))
  },

  /** Whether the kernel creates maps of this type (libbpf's name: `ringbuf`, `hash`, `user_ringbuf`…). */
  mapType(name: string): boolean {
    const type = known('features.mapType', 'map type', probeNames().mapTypes, name)
    return cached(`map ${type}`, () => addon.probeMapType(type))
  },

  /** Whether programs of `programType` may call the helper (`ringbuf_output`, or `bpf_ringbuf_output`). */
  helper(programType: string, helper: string): boolean {
    const op = 'features.helper'
    const type = known(op, 'program type', probeNames().programTypes, programType)
    const name = known(op, 'helper', probeNames().helpers, typeof helper === 'string' ? helper.replace(/^bpf_/, '') : helper)
    return cached(`helper ${type} ${name}`, () => addon.probeHelper(type, name))
  },

  /** Whether programs can attach this way (see AttachKind): e.g. `tp_btf` and `iter` without `fentry`. */
  attach(kind: AttachKind): boolean {
    const checked = known('features.attach', 'attach kind', ATTACH_KINDS, kind) as AttachKind
    return cached(`attach ${checked}`, () => {
      if (LINKED.has(checked)) return addon.probeAttach([checked])[checked] === true
      if (checked === 'kprobe') return exists(['/sys/bus/event_source/devices/kprobe', '/sys/kernel/tracing/kprobe_events', '/sys/kernel/debug/tracing/kprobe_events'])
      if (checked === 'uprobe') return exists(['/sys/bus/event_source/devices/uprobe', '/sys/kernel/tracing/uprobe_events', '/sys/kernel/debug/tracing/uprobe_events'])
      return features.mapType('struct_ops')
    })
  },
}

export interface KernelSupport {
  /** By libbpf's name of the program type (`tracepoint`, `xdp`…): whether the kernel loads one. */
  programTypes: Record<string, boolean>
  /** By libbpf's name of the map type (`ringbuf`, `hash`…): whether the kernel creates one. */
  mapTypes: Record<string, boolean>
  /** The helpers bpfkit and bpfkit.bpf.h use (`ringbuf_reserve`, `loop`…): whether tracepoint programs may call them. */
  helpers: Record<string, boolean>
  /** Each way to attach that a kernel may lack on its own (see AttachKind). */
  attach: Record<AttachKind, boolean>
}

/** Everything at once, for a full report (bpfkit doctor): every program and map type, bpfkit's helpers, every attach kind. */
export function probeKernel(): KernelSupport {
  const { programTypes, mapTypes } = probeNames()
  const unprobed = ATTACH_KINDS.filter((kind) => LINKED.has(kind) && !cache.has(`attach ${kind}`))
  if (unprobed.length > 0) {
    for (const [kind, ok] of Object.entries(addon.probeAttach([...unprobed]))) cache.set(`attach ${kind}`, ok)
  }
  return {
    programTypes: Object.fromEntries(programTypes.map((type) => [type, features.programType(type)])),
    mapTypes: Object.fromEntries(mapTypes.map((type) => [type, features.mapType(type)])),
    helpers: Object.fromEntries(BPFKIT_HELPERS.map((helper) => [helper, features.helper('tracepoint', helper)])),
    attach: Object.fromEntries(ATTACH_KINDS.map((kind) => [kind, features.attach(kind)])) as Record<AttachKind, boolean>,
  }
}
