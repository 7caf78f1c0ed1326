// What widely used tools need: pre-load setters, load failures that name the map or program at fault,
// per-kind probes, attach({ partial }), and verifier hints that match the log.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BpfError, BpfObject, VerifierError, features, probeKernel, setLogger } from 'bpfkit'
import { bpfFds, cgroup2Mount, fixture, rejected, thrown } from './helpers'

describe('pre-load setters', () => {
  it('a stack trace map takes its value size before load, as the C tools set it', async () => {
    await using obj = BpfObject.open(fixture('realworld.bpf.o'))
    const stacks = obj.map('stacks')
    expect(stacks.valueSize).toBe(127 * 8)
    stacks.valueSize = 32 * 8
    stacks.maxEntries = 16
    obj.rodata.target_pid = process.pid
    for (const name of ['missing_tracepoint', 'missing_function']) obj.program(name).autoload = false
    await obj.load()
    expect(stacks.info()).toMatchObject({ type: 'stack_trace', valueSize: 256, maxEntries: 16 })
    obj.program('user_stack').attach()
    void process.ppid
    const id = obj.data.stack_id as bigint
    expect(id).toBeGreaterThanOrEqual(0n)
    const frames = stacks.raw.lookup(Buffer.from(new Uint32Array([Number(id)]).buffer))!
    expect(frames).toHaveLength(256)
    expect(frames.readBigUInt64LE(0)).toBeGreaterThan(0n)
  })

  it('a typed map used before a size change reads and writes with the sizes it is loaded with', async () => {
    await using obj = BpfObject.open(fixture('maps.bpf.o'))
    const flows = obj.map('flows')
    const size = flows.valueSize
    // A size that its BTF type does not have: typed calls are refused, having made their scratch space.
    flows.valueSize = 8
    expect(thrown(() => flows.get({ saddr: 1, port: 2, proto: 3 })).message).toMatch(/struct stats is 24 bytes, the map's values 8/)
    flows.valueSize = size
    await obj.load()
    const value = { packets: 5n, bytes: 500n, label: 'web' }
    flows.set({ saddr: 1, port: 80, proto: 6 }, value)
    expect(flows.get({ saddr: 1, port: 80, proto: 6 })).toEqual(value)
  })

  it("a size set through one BpfMap resets the typed views of the others over the same map (an int64 variant's)", async () => {
    // libbpf retries the map without BTF when its value size no longer matches: quiet here.
    await using obj = BpfObject.open(fixture('maps.bpf.o'), { logger: () => {} })
    const numbers = obj.map('slots', { int64: 'number' })
    expect(thrown(() => numbers.get(0)).code).toBe('EBADSTATE') // not loaded: its typed view is made
    obj.map('slots').valueSize = 65536
    await obj.load()
    obj.map('slots').raw.update(Buffer.alloc(4), Buffer.alloc(65536, 0xaa))
    // Made anew for 65536-byte values, which the BTF type is not, rather than kept for 24.
    expect(thrown(() => numbers.get(0)).message).toMatch(/struct stats is 24 bytes, the map's values 65536/)
  })

  it('a global section left out of load (autocreate off) and a map of a closed object refuse, not crash', async () => {
    const obj = BpfObject.open(fixture('globals.bpf.o'))
    obj.program('bump').autoload = false
    obj.maps.find((m) => m.name.endsWith('.bss'))!.autocreate = false
    await obj.load()
    expect(thrown(() => obj.bss.hits)).toMatchObject({ code: 'EBADSTATE', message: expect.stringMatching(/was not created \(autocreate is off\)/) })
    expect(thrown(() => (obj.bss.hits = 1n)).code).toBe('EBADSTATE')
    const map = obj.maps[0]!
    obj.close()
    expect(thrown(() => map.unpin()).code).toBe('ECLOSED')
  })

  it('every map and program property libbpf lets change before load changes, and only before', async () => {
    const obj = BpfObject.open(fixture('realworld.bpf.o'))
    const table = obj.map('lookup_table')
    table.flags = 1 // BPF_F_NO_PREALLOC
    table.numaNode = 0
    table.autocreate = true
    table.keySize = 4
    table.mapExtra = 0n
    expect([table.flags, table.numaNode, table.autocreate, table.keySize, table.mapExtra]).toEqual([1, 0, true, 4, 0n])
    const program = obj.program('user_stack')
    program.logLevel = 1
    program.flags = 0
    expect([program.logLevel, program.flags, program.type]).toEqual([1, 0, 'tracepoint'])
    program.type = 'tracepoint'
    expect(thrown(() => (program.type = 'no_such_type')).code).toBe('EINVAL')
    expect(thrown(() => (program.logLevel = 9)).origin).toBe('argument')
    expect(thrown(() => (table.keySize = -1)).origin).toBe('argument')
    expect(thrown(() => (table.mapExtra = 1 as never)).code).toBe('EINVAL')
    for (const name of ['missing_tracepoint', 'missing_function', 'on_exec']) obj.program(name).autoload = false
    await obj.load()
    expect(table.info().flags).toBe(1)
    // logLevel 1: the log of a program that loaded.
    expect(program.verifierLog).toMatch(/processed \d+ insns/)
    for (const set of [() => (table.valueSize = 16), () => (table.flags = 0), () => (program.logLevel = 0), () => (program.type = 'xdp')]) {
      expect(thrown(set).code).toBe('EBADSTATE')
    }
    obj.close()
  })

  it('program.expectedAttachType chooses the hook a SEC() left open: a cgroup_skb/egress program attached at ingress', async () => {
    const cgroup = path.join(cgroup2Mount(), `bpfkit-attach-type-${process.pid}`)
    fs.mkdirSync(cgroup)
    try {
      await using obj = BpfObject.open(fixture('link-update.bpf.o'))
      const program = obj.program('count_a')
      expect(program.expectedAttachType).toBe('cgroup_inet_egress')
      program.expectedAttachType = 'cgroup_inet_ingress'
      expect(program.expectedAttachType).toBe('cgroup_inet_ingress')
      expect(thrown(() => (program.expectedAttachType = 'no_such_hook')).code).toBe('EINVAL')
      await obj.load()
      using link = program.attachCgroup(cgroup)
      expect(link.info()).toMatchObject({ attachType: 'cgroup_inet_ingress' })
      expect(thrown(() => (program.expectedAttachType = 'cgroup_inet_egress')).code).toBe('EBADSTATE')
    } finally {
      fs.rmdirSync(cgroup)
    }
  })

  it('map.autocreate = false leaves a map out', async () => {
    await using obj = BpfObject.open(fixture('realworld.bpf.o'))
    obj.map('lookup_table').autocreate = false
    for (const name of ['missing_tracepoint', 'missing_function']) obj.program(name).autoload = false
    await obj.load()
    expect(thrown(() => obj.map('lookup_table').fd)).toMatchObject({ code: 'EBADSTATE' })
    expect(obj.map('stacks').fd).toBeGreaterThan(0)
  })
})

describe('load failures name what failed', () => {
  it('a map the kernel cannot create is named with its definition and the reason', async () => {
    const before = bpfFds()
    const obj = BpfObject.open(fixture('realworld.bpf.o'), { logger: () => {} })
    obj.map('lookup_table').valueSize = 0
    const error = await rejected(obj.load())
    expect(error).toMatchObject({ code: 'EINVAL', errno: 22, op: 'bpf_object__load', origin: 'kernel' })
    expect(error.message.split('\n')[0]).toBe("bpf_object__load: map 'lookup_table' (hash, key 4 B, value 0 B, 64 entries) could not be created: Invalid argument")
    expect(error.hint).toMatch(/key and value sizes/)
    expect(obj.state).toBe('failed')
    obj.close()
    expect(bpfFds()).toEqual(before)
  })

  it('a program the kernel refuses is the one blamed, not the tp_btf program beside it', async () => {
    const obj = BpfObject.open(fixture('tracing.bpf.o'), { logger: () => {} })
    for (const program of obj.programs) program.autoload = ['on_tp_btf', 'on_iter', 'on_fentry'].includes(program.name)
    obj.program('on_fentry').setAttachTarget('security_task_kill')
    const loads = features.attach('fentry') && features.attach('tp_btf') && features.attach('iter')
    const error = await obj.load().then(() => undefined, (e: BpfError) => e)
    obj.close()
    if (loads) return expect(error).toBeUndefined()
    expect(error!.message).toMatch(/program 'on_fentry'/)
    expect(error!.message).not.toMatch(/on_iter|on_tp_btf/)
    expect(error!.hint).toMatch(/cannot load fentry programs/)
  })

  it('doctor and probeKernel probe tp_btf, iterators and fentry each on their own; tp_btf attaches where it says so', async () => {
    const support = probeKernel()
    expect(Object.keys(support.attach)).toEqual(expect.arrayContaining(['tp_btf', 'iter', 'fentry', 'fexit', 'fmod_ret', 'lsm', 'kprobe', 'uprobe_multi']))
    expect(support.programTypes.tracing).toBe(support.attach.tp_btf || support.attach.iter || support.attach.fentry)
    await using obj = BpfObject.open(fixture('realworld.bpf.o'))
    for (const program of obj.programs) program.autoload = program.name === 'on_exec'
    if (!support.attach.tp_btf) {
      await expect(obj.load()).rejects.toBeInstanceOf(BpfError)
      return
    }
    await obj.load()
    using link = obj.program('on_exec').attach()
    expect(link.info()).toMatchObject({ type: 'raw_tracepoint', name: 'sched_process_exec' })
    const { execFileSync } = await import('node:child_process')
    execFileSync('true')
    expect(obj.bss.exec_hits).toBeGreaterThan(0n)
  })

  it('features answer one question each, remembered, and refuse names they do not know', () => {
    expect(features.programType('tracepoint')).toBe(true)
    expect(features.mapType('ringbuf')).toBe(true)
    expect(features.helper('tracepoint', 'ringbuf_output')).toBe(true)
    expect(features.helper('tracepoint', 'bpf_get_current_pid_tgid')).toBe(true)
    expect(features.helper('xdp', 'override_return')).toBe(false)
    expect(features.attach('uprobe')).toBe(true)
    for (const call of [() => features.programType('nope'), () => features.mapType('nope'), () => features.helper('xdp', 'nope'),
      () => features.attach('nope' as never), () => features.programType(Symbol('x') as never)]) {
      expect(thrown(call)).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    }
  })
})

describe('ksyscall', () => {
  it('without kprobes, attachKsyscall and attach() say that the kernel lacks them, and what to use instead', async (ctx) => {
    if (features.attach('kprobe')) ctx.skip('this kernel has kprobes: test/tracing.test.ts attaches ksyscall programs')
    const before = bpfFds()
    const obj = BpfObject.open(fixture('tracing.bpf.o'), { logger: () => {} })
    for (const program of obj.programs) program.autoload = program.name === 'on_ksyscall'
    await obj.load()
    const error = thrown(() => obj.program('on_ksyscall').attachKsyscall({ syscall: 'getppid' }))
    expect(error).toMatchObject({ code: 'EOPNOTSUPP', op: 'program.attachKsyscall' })
    expect(error.message.split('\n')[0]).toBe("program.attachKsyscall: this kernel cannot attach ksyscall programs, which are kprobes on the syscall handlers (features.attach('kprobe') is false)")
    expect(error.hint).toMatch(/CONFIG_KPROBES.*tracepoint/)
    obj.close()
    expect(bpfFds()).toEqual(before)
  })
})

describe('attach({ partial })', () => {
  async function load(): Promise<BpfObject> {
    const obj = BpfObject.open(fixture('realworld.bpf.o'))
    obj.rodata.target_pid = process.pid
    obj.program('on_exec').autoload = features.attach('tp_btf')
    await obj.load()
    return obj
  }

  it('by default, lists every program that failed and leaves nothing attached', async () => {
    setLogger(() => {})
    try {
      const before = bpfFds()
      const obj = await load()
      const attached = bpfFds().links.length
      const error = thrown(() => obj.attach())
      expect(error).toMatchObject({ op: 'BpfObject.attach' })
      expect(error.message.split('\n')[0]).toMatch(/^BpfObject.attach: 2 of \d programs could not attach: missing_tracepoint \(.*\); missing_function \(.*\)$/)
      expect(error.hint).toMatch(/partial: true/)
      expect((error.cause as AggregateError).errors).toHaveLength(2)
      expect(bpfFds().links.length).toBe(attached)
      obj.close()
      expect(bpfFds()).toEqual(before)
    } finally {
      setLogger(null)
    }
  })

  it('with partial: true, attaches the rest and reports each failure with its reason', async () => {
    setLogger(() => {})
    try {
      await using obj = await load()
      const links = obj.attach({ partial: true })
      expect(links.map((l) => l.program)).toEqual(['user_stack', ...(features.attach('tp_btf') ? ['on_exec'] : [])])
      expect(links.failed.map((f) => [f.program, f.error.code])).toEqual([['missing_tracepoint', 'ENOENT'], ['missing_function', expect.any(String)]])
      expect(links.failed[0]!.reason).toMatch(/tracepoint\/bpfkit\/no_such_event/)
      expect(links.report()).toContain(`missing_tracepoint failed: ${links.failed[0]!.reason}`)
      void process.ppid
      expect(obj.data.stack_id).toBeGreaterThanOrEqual(0n)
      expect(thrown(() => obj.attach({ partial: 'yes' as never })).origin).toBe('argument')
    } finally {
      setLogger(null)
    }
  })
})

describe('verifier hints', () => {
  it('match the reason in the log: a NULL check, a bound check — never "run as root" for root', async () => {
    for (const [program, hint, reason] of [
      ['unchecked_lookup', /may be NULL/, /invalid mem access 'map_value_or_null'/],
      ['unbounded_index', /out of bounds/, /unbounded memory access|invalid access to map value|outside of the allowed memory range/],
    ] as const) {
      const obj = BpfObject.open(fixture('rejected.bpf.o'), { logger: () => {} })
      for (const p of obj.programs) p.autoload = p.name === program
      const error = await rejected(obj.load())
      obj.close()
      expect(error).toBeInstanceOf(VerifierError)
      expect(error).toMatchObject({ code: 'EACCES', program })
      expect((error as VerifierError).log).toMatch(reason)
      expect(error.hint).toMatch(hint)
      expect(error.hint).not.toMatch(/root|CAP_BPF/)
      // The hint is on its own line, after the log's last lines.
      expect(error.message.split('\n')[0]).not.toContain(error.hint!)
      expect(error.message.endsWith(`hint: ${error.hint}`)).toBe(true)
    }
  })
})
