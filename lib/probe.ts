// Probes: what the running kernel supports — program types, map types and the helpers bpfkit relies
// on — as libbpf's probes find it (native/probe.cc).
import { addon } from './native'

export interface KernelSupport {
  /** By libbpf's name of the program type (`tracepoint`, `xdp`…): whether the kernel loads one. */
  programTypes: Record<string, boolean>
  /** By libbpf's name of the map type (`ringbuf`, `hash`…): whether the kernel creates one. */
  mapTypes: Record<string, boolean>
  /** The helpers bpfkit and bpfkit.bpf.h use (`ringbuf_reserve`, `loop`…): whether tracepoint programs may call them. */
  helpers: Record<string, boolean>
  /**
   * Link types a kernel may have without another: `kprobe_multi` (CONFIG_FPROBE, Linux ≥ 5.18) and `tcx`
   * (Linux ≥ 6.6).
   */
  links: Record<string, boolean>
}

/** Asks the running kernel what it supports (each probe loads a tiny program or creates a map). */
export function probeKernel(): KernelSupport {
  return addon.probe()
}

let probed: KernelSupport | undefined

/** Whether the kernel loads programs of this type (libbpf's name); probed once per process. */
export function programTypeSupported(type: string): boolean {
  probed ??= addon.probe()
  return probed.programTypes[type] === true
}

/** Whether the kernel makes links of this kind (`kprobe_multi`, `tcx`); probed once per process. */
export function linkSupported(kind: string): boolean {
  probed ??= addon.probe()
  return probed.links[kind] === true
}
