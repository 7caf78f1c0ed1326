// BPF iterators read through link.open(): a task iterator's text lines, a map iterator's typed records.
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { BpfError, BpfObject, features } from 'bpfkit'
import { bpfFds, fixture, openFds, thrown } from './helpers'

/** The object with only the named iterator programs loaded. */
async function loadOnly(...names: string[]): Promise<BpfObject> {
  const obj = BpfObject.open(fixture('iter.bpf.o'), { logger: () => {} })
  for (const program of obj.programs) program.autoload = names.includes(program.name)
  await obj.load()
  return obj
}

/** Whether this kernel loads iterators over one map's elements (6.18 here refuses them with EPERM). */
async function elementIterators(): Promise<boolean> {
  try {
    ;(await loadOnly('dump_scores')).close()
    return true
  } catch (error) {
    if (error instanceof BpfError && error.code === 'EPERM') return false
    throw error
  }
}

describe.runIf(features.attach('iter'))('iterators', () => {
  const comm = fs.readFileSync('/proc/self/comm', 'utf8').trim()

  it('a task iterator prints every process; this process finds its own pid and name', async () => {
    await using obj = await loadOnly('dump_task')
    using link = obj.program('dump_task').attachIter()
    expect(link.info()).toMatchObject({ type: 'iter', name: 'task' })
    const lines: string[] = []
    for await (const line of link.open().lines()) lines.push(line)
    expect(lines.length).toBeGreaterThan(10)
    expect(lines).toContain(`${process.pid} ${comm}`)
    expect(lines.every((line) => /^\d+ /.test(line))).toBe(true)
    // Each open() is a new pass over what the iterator walks now.
    const text = await link.open().text()
    expect(text).toContain(`\n${process.pid} ${comm}\n`)
  })

  it("a map iterator writes one typed record per BPF map; this object's maps are among them", async () => {
    await using obj = await loadOnly('dump_maps')
    const scores = obj.map('scores')
    using link = obj.program('dump_maps').attachIter()
    const records: Array<{ id: number; max_entries: number; name: string }> = []
    for await (const record of link.open().records('map_record')) records.push(record)
    expect(records.length).toBeGreaterThan(1)
    expect(records).toContainEqual({ id: scores.id, max_entries: 64, name: 'scores' })
  })

  it('an iterator over one map writes a typed record per element, where the kernel loads it', async (context) => {
    if (!(await elementIterators())) {
      context.skip('this kernel refuses iter/bpf_map_elem programs at load (EPERM); test:kernels runs it on 6.1 and 6.12')
    }
    await using obj = await loadOnly('dump_scores')
    const scores = obj.map('scores')
    for (const key of [3, 5, 8]) scores.set(key, { points: BigInt(key * 100), name: `p${key}` })
    using link = obj.program('dump_scores').attachIter({ map: scores })
    expect(link.info()).toMatchObject({ type: 'iter', name: 'bpf_map_elem', mapId: scores.id })
    const records = []
    for await (const record of link.open().records('record')) records.push(record)
    expect(records.sort((a, b) => a.key - b.key)).toEqual([
      { key: 3, doubled: 6, points: 300n },
      { key: 5, doubled: 10, points: 500n },
      { key: 8, doubled: 16, points: 800n },
    ])
    // The bytes, as a Readable: 16 bytes per element.
    const chunks: Buffer[] = []
    for await (const chunk of link.open()) chunks.push(chunk)
    expect(Buffer.concat(chunks)).toHaveLength(3 * 16)
  })

  it('a pass read twice, a type the object lacks, and a link that is not an iterator are BpfErrors with hints; nothing leaks', async () => {
    const before = { fds: openFds(), bpf: bpfFds() }
    const obj = await loadOnly('dump_task')
    const link = obj.program('dump_task').attachIter()
    const pass = link.open()
    for await (const line of pass.lines()) void line
    const twice = thrown(() => pass.lines())
    expect(twice).toMatchObject({ code: 'EBADSTATE', op: 'iter.lines', origin: 'state' })
    expect(twice.message.split('\n')[0]).toContain('read already')
    expect(twice.hint).toMatch(/link\.open\(\) again/)

    const unknown = link.open()
    await expect(unknown.records('no_such_struct').next()).rejects.toMatchObject({ code: 'ENOENT', hint: expect.stringContaining('bpf_seq_write') })
    expect(thrown(() => unknown.lines()).code).toBe('EBADSTATE')

    const other = BpfObject.open(fixture('attach.bpf.o'))
    await other.load()
    const tracepoint = other.program('on_tracepoint').attachTracepoint('syscalls', 'sys_enter_getppid')
    const wrong = thrown(() => tracepoint.open())
    expect(wrong).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    expect(wrong.hint).toMatch(/attachIter/)

    // Passes left open are ended by the link's (or the object's) close.
    const open = link.open()
    link.close()
    expect(open.destroyed).toBe(true)
    const closed = thrown(() => open.lines())
    expect(closed).toMatchObject({ code: 'ECLOSED', op: 'iter.lines' })
    expect(closed.message).toContain('closed before it was read')
    expect(thrown(() => link.open()).code).toBe('ECLOSED')
    obj.close()
    other.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(bpfFds()).toEqual(before.bpf)
    expect(openFds()).toBe(before.fds)
  })

  it('a pass destroyed while a read is in flight closes its fd after the read, not under it', async () => {
    await using obj = await loadOnly('dump_task')
    using link = obj.program('dump_task').attachIter()
    // The real read and close, the read's completion held back: what destroy() does in between shows.
    const nodeFs = createRequire(import.meta.url)('node:fs') as typeof fs
    const { read, close } = nodeFs
    const order: string[] = []
    nodeFs.read = ((...args: unknown[]) => {
      const done = args.pop() as (...result: unknown[]) => void
      return (read as (...a: unknown[]) => void)(...args, (...result: unknown[]) => setTimeout(() => {
        order.push('read')
        done(...result)
      }, 50))
    }) as typeof fs.read
    nodeFs.close = ((fd: number, done: () => void) => {
      order.push('close')
      close(fd, done)
    }) as typeof fs.close
    try {
      const pass = link.open()
      const errors: Error[] = []
      pass.on('error', (error) => errors.push(error))
      pass.read()
      pass.destroy()
      await new Promise((resolve) => pass.once('close', resolve))
      expect(order).toEqual(['read', 'close'])
      expect(errors).toEqual([])
    } finally {
      nodeFs.read = read
      nodeFs.close = close
    }
  })
})
