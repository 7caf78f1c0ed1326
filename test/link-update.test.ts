// Atomic program swaps on a live link (link.update) and loaded programs of their own: pinned, reopened
// from the pin or by id, and given an attach target at run time.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfError, BpfObject, BpfProgram, features } from 'bpfkit'
import { bpfFds, cgroup2Mount, fixture, thrown } from './helpers'

const cgroup = path.join(cgroup2Mount(), `bpfkit-link-update-${process.pid}`)
const pin = `/sys/fs/bpf/bpfkit-prog-${process.pid}`
const port = 40000 + (process.pid % 20000)

beforeAll(() => fs.mkdirSync(cgroup, { recursive: true }))
afterAll(() => {
  fs.rmSync(pin, { force: true })
  fs.rmdirSync(cgroup)
})

/**
 * A child process in the test cgroup that sends `count` UDP datagrams to the port once told to (after it
 * is in the cgroup), and prints how many the kernel took.
 */
function sender(count: number): { done: Promise<number> } {
  const script = `
    const dgram = require('node:dgram')
    const receiver = dgram.createSocket('udp4')
    const socket = dgram.createSocket('udp4')
    receiver.on('message', () => {})
    receiver.bind(${port}, '127.0.0.1', () => process.stdin.once('data', async () => {
      let sent = 0
      for (let batch = 0; batch < ${count}; batch += 500) {
        await Promise.all(Array.from({ length: Math.min(500, ${count} - batch) }, () => new Promise((resolve) =>
          socket.send('x', ${port}, '127.0.0.1', (error) => { if (!error) sent++; resolve() }))))
      }
      process.stdout.write(String(sent))
      process.exit(0)
    }))`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  fs.writeFileSync(path.join(cgroup, 'cgroup.procs'), String(child.pid))
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk))
  const done = new Promise<number>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`sender exited ${code}`)))))
  // Bound and in the cgroup: go.
  setTimeout(() => child.stdin.write('go'), 200)
  return { done }
}

async function load(): Promise<BpfObject> {
  const obj = BpfObject.open(fixture('link-update.bpf.o'))
  obj.rodata.target_port = port
  await obj.load()
  return obj
}

describe('link.update', () => {
  it('swaps the program of a live cgroup link many times while datagrams flow, and misses none', async () => {
    await using obj = await load()
    const a = obj.program('count_a')
    const b = obj.program('count_b')
    using link = a.attachCgroup(cgroup)
    const { done } = sender(40000)
    let finished = false
    void done.then(() => (finished = true), () => (finished = true))
    let swaps = 0
    while (!finished) {
      link.update(swaps % 2 === 0 ? b : a)
      swaps++
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    const sent = await done
    const [countA, countB] = obj.bss.counts as bigint[]
    expect(sent).toBe(40000)
    expect(countA! + countB!).toBe(BigInt(sent))
    expect(swaps).toBeGreaterThan(4)
    expect(countA).toBeGreaterThan(0n)
    expect(countB).toBeGreaterThan(0n)
    expect(link.program).toBe(swaps % 2 === 0 ? 'count_a' : 'count_b')
    expect(link.info()).toMatchObject({ type: 'cgroup', attachType: 'cgroup_inet_egress', programId: (swaps % 2 === 0 ? a : b).id })
  })

  it('takes a program reopened from its pin or by id; refuses another program type and a link type the kernel cannot update', async () => {
    const before = bpfFds()
    const obj = await load()
    const link = obj.program('count_a').attachCgroup(cgroup)
    obj.program('count_b').pin(pin)
    expect(obj.program('count_b').pinPath).toBe(pin)
    const pinned = BpfProgram.openPinned(pin)
    expect(pinned).toMatchObject({ name: 'count_b', type: 'cgroup_skb', section: '' })
    expect(pinned.id).toBe(obj.program('count_b').id)
    link.update(pinned)
    expect(link.info()!.programId).toBe(pinned.id)
    const byId = BpfProgram.fromId(obj.program('count_a').id)
    link.update(byId)
    expect(link.info()!.programId).toBe(obj.program('count_a').id)
    expect(BpfProgram.list().map((p) => p.id)).toContain(byId.id)

    const wrongType = thrown(() => link.update(obj.program('not_cgroup')))
    expect(wrongType).toMatchObject({ code: 'EINVAL', origin: 'argument', op: 'link.update' })
    expect(wrongType.message).toContain('the link runs a cgroup_skb program')
    expect(wrongType.hint).toMatch(/same SEC/)
    expect(link.info()!.programId).toBe(obj.program('count_a').id)
    const tracepoint = obj.program('not_cgroup').attachTracepoint('syscalls', 'sys_enter_getppid')
    const perf = thrown(() => tracepoint.update(obj.program('not_cgroup')))
    expect(perf).toMatchObject({ code: 'EOPNOTSUPP' })
    expect(perf.hint).toMatch(/cgroup, XDP, tcx, netns/)
    expect(thrown(() => link.update({} as BpfProgram))).toMatchObject({ code: 'EINVAL', origin: 'argument' })

    obj.program('count_b').unpin()
    expect(fs.existsSync(pin)).toBe(false)
    pinned.close()
    pinned.close()
    expect(thrown(() => pinned.fd).code).toBe('ECLOSED')
    byId.close()
    obj.close()
    expect(bpfFds()).toEqual(before)
  })

  it('a program opened from a pin or id attaches only through bpf_link_create, and says so for the rest', async () => {
    await using obj = await load()
    obj.program('not_cgroup').pin(pin)
    using pinned = BpfProgram.openPinned(pin)
    obj.program('not_cgroup').unpin()
    const error = thrown(() => pinned.attachTracepoint('syscalls', 'sys_enter_getppid'))
    expect(error).toMatchObject({ code: 'EINVAL' })
    expect(error.message).toMatch(/opened from a pin or by id/)
    const cgroupProgram = BpfProgram.fromId(obj.program('count_a').id)
    const link = cgroupProgram.attachCgroup(cgroup, { type: 'egress' })
    expect(link.info()).toMatchObject({ type: 'cgroup', programId: cgroupProgram.id })
    link.close()
    cgroupProgram.close()
    expect(thrown(() => BpfProgram.openPinned('/sys/fs/bpf/bpfkit-no-such-pin')).code).toBe('ENOENT')
    expect(thrown(() => BpfProgram.fromId(0)).origin).toBe('argument')
  })
})

describe('setAttachTarget on a BPF program', () => {
  it('replaces (freplace) and traces (fexit) a global function of a loaded program, where the kernel has trampolines', async () => {
    await using target = BpfObject.open(fixture('replace-target.bpf.o'))
    target.rodata.target_pid = process.pid
    await target.load()
    const entry = target.program('entry')
    await using replace = BpfObject.open(fixture('replace.bpf.o'), { logger: () => {} })
    replace.program('new_decide').setAttachTarget(entry, 'decide')
    replace.program('after_decide').setAttachTarget(entry.fd, 'decide')
    expect(thrown(() => replace.program('after_decide').setAttachTarget(entry, ''))).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    for (const fd of [0, -1, 1.5, 2 ** 31]) {
      expect(thrown(() => replace.program('after_decide').setAttachTarget(fd, 'decide'))).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    }
    // An fd that is not a program's: the kernel has no program info to give.
    const notProgram = fs.openSync('/dev/null', 'r')
    try {
      expect(thrown(() => replace.program('new_decide').setAttachTarget(notProgram, 'decide'))).toMatchObject({ code: 'EINVAL', origin: 'kernel' })
    } finally {
      fs.closeSync(notProgram)
    }
    if (!features.attach('fexit')) {
      const error = await replace.load().then(() => undefined, (e: BpfError) => e)
      expect(error).toBeInstanceOf(BpfError)
      expect(error!.message).toMatch(/program '(new_decide|after_decide)'/)
      expect(error!.hint).toMatch(/this kernel cannot load/)
      return
    }
    await replace.load()
    using tracepoint = entry.attachTracepoint('syscalls', 'sys_enter_getppid')
    void process.ppid
    expect(target.data.decided).toBe(2)
    const fexit = replace.program('after_decide').attach()
    void process.ppid
    expect(replace.data.last_result).toBe(2)
    // A function is replaced or traced, not both at once (EBUSY).
    fexit.close()
    using freplace = replace.program('new_decide').attach()
    void process.ppid
    expect(target.data.decided).toBe(42)
    void tracepoint, freplace
  })
})
