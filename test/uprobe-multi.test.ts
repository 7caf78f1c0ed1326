// uprobe.multi: one link over several functions of a binary, each with its cookie.
import { describe, expect, it } from 'vitest'
import { BpfObject, elfFunctions, features, resolveBinary } from 'bpfkit'
import { fixture, libcIndirectFunctions, thrown } from './helpers'

describe.runIf(features.attach('uprobe_multi'))('attachUprobeMulti', () => {
  it('counts this process\'s calls of two libc functions by cookie, by symbols, by pattern and by offsets', async () => {
    await using obj = BpfObject.open(fixture('uprobe-multi.bpf.o'))
    await obj.load()
    const program = obj.program('count_calls')
    const hits = (): bigint[] => [...(obj.bss.hits as BigUint64Array)]
    const link = program.attachUprobeMulti({ binary: 'libc.so.6', symbols: ['getppid', 'getegid'], cookies: [1n, 2n], pid: process.pid })
    expect(link.info()).toMatchObject({ type: 'uprobe_multi', count: 2, pid: process.pid })
    expect(link.target).toMatch(/^uprobe\.multi \S+libc\.so\.6:getppid,getegid \(pid \d+\)$/)
    for (let i = 0; i < 3; i++) void process.ppid
    process.getegid!()
    process.getegid!()
    expect(hits().slice(1, 3)).toEqual([3n, 2n])
    link.close()
    void process.ppid
    expect(hits()[1]).toBe(3n)

    // A glob over the binary's functions (no cookies: slot 0).
    const byPattern = program.attachUprobeMulti({ binary: 'libc.so.6', pattern: 'getppi?', pid: process.pid })
    void process.ppid
    expect(hits()[0]).toBe(1n)
    byPattern.close()

    // File offsets, as elfFunctions lists them (for stripped binaries).
    const libc = resolveBinary('libc.so.6')
    const offset = elfFunctions(libc).find((f) => f.name === 'getegid')!.fileOffset
    const byOffset = program.attachUprobeMulti({ binary: libc, offsets: [offset], cookies: [3n], pid: process.pid })
    process.getegid!()
    expect(hits()[3]).toBe(1n)
    byOffset.close()
  })

  it('a missing symbol names the nearest ones; a pattern that matches nothing and bad options are BpfErrors', async (ctx) => {
    await using obj = BpfObject.open(fixture('uprobe-multi.bpf.o'))
    await obj.load()
    const program = obj.program('count_calls')
    const missing = thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', symbols: ['getppid', 'getppidd'] }))
    expect(missing).toMatchObject({ code: 'ENOENT' })
    expect(missing.hint).toMatch(/did you mean: .*getppid/)
    expect(thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', pattern: 'bpfkit_nothing_*' })).code).toBe('ENOENT')
    expect(thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', symbols: ['getppid'], pattern: 'x' })).origin).toBe('argument')
    expect(thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', symbols: ['getppid'], cookies: [1n, 2n] })).code).toBe('EINVAL')
    expect(thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', offsets: [-1] })).code).toBe('EINVAL')
    // Options and their arrays that cannot be read.
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    expect(thrown(() => program.attachUprobeMulti(proxy as never)).code).toBe('EINVAL')
    expect(thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', symbols: proxy as never })).message).toContain('symbols could not be read')
    expect(thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', symbols: ['getppid'], cookies: proxy as never })).message)
      .toContain('cookies could not be read')
    // A GNU indirect function's symbol is its resolver, which runs once, at load: refused by name, left
    // out of a pattern, and named when a pattern matches only such.
    const { libc, ifuncs } = libcIndirectFunctions()
    if (ifuncs.length === 0) ctx.skip(`${libc} has no GNU indirect functions`)
    for (const ifunc of ifuncs) {
      const error = thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', symbols: ['getppid', ifunc.name] }))
      expect(error).toMatchObject({ code: 'EINVAL' })
      expect(error.message).toContain(`'${ifunc.name}' in ${libc} is a GNU indirect function (IFUNC)`)
      expect(thrown(() => program.attachUprobeMulti({ binary: 'libc.so.6', pattern: ifunc.name })).message).toContain('GNU indirect function')
    }
  })
})
