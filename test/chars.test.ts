// char[N] fields that hold more than one C string (a command line: argv's NUL-separated strings) decode
// as a list of strings or as bytes, through readers, maps and codecs, and write back the same bytes.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { BpfObject, Btf, type EventBatch } from 'bpfkit'
import { fixture, thrown, waitFor } from './helpers'

interface Cmdline<A> {
  pid: number
  bytes: number
  comm: string
  args: A
}

/** The strings a command line's first `n` bytes hold, as 'strings' reads them. */
function strings(bytes: Buffer): string[] {
  const parts = bytes.toString('latin1').split('\0')
  while (parts.length > 0 && parts.at(-1) === '') parts.pop()
  return parts.map((part) => Buffer.from(part, 'latin1').toString())
}

describe('char[N] as bytes or a list of strings', () => {
  let obj: BpfObject | undefined
  afterEach(() => {
    obj?.close()
    obj = undefined
  })

  async function capture(pid = process.pid): Promise<BpfObject> {
    obj = BpfObject.open(fixture('cmdline.bpf.o'))
    obj.rodata.target_pid = pid
    await obj.load()
    obj.attach()
    return obj
  }

  it("a reader's { chars } decodes a child's argv buffer as its strings, or its bytes; batch views too", async () => {
    // A process whose command line has an empty argument, calling getppid() on each line of input.
    const child = spawn(process.execPath, ['-e', 'process.stdin.on("data", () => process.ppid)', 'one', '', 'three'], { stdio: ['pipe', 'ignore', 'inherit'] })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    try {
      const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`).subarray(0, 128)
      const o = await capture(child.pid)
      // One reader at a time: each consumes what the ring holds.
      const first = async <T>(options: Parameters<BpfObject['ringBuffer']>[1], on: 'data' | 'batch' = 'data'): Promise<T> => {
        const reader = o.ringBuffer('cmdlines', { type: 'cmdline', ...options })
        const got: T[] = []
        reader.on(on, (value: unknown) => got.push(on === 'data' ? value as T : (value as EventBatch<T>).at(0) as T))
        child.stdin.write('\n')
        await waitFor(() => got.length > 0)
        reader.close()
        return got[0]!
      }
      const lists = await first<Cmdline<string[]>>({ chars: { args: 'strings' } })
      expect(lists.args).toEqual([process.execPath, '-e', 'process.stdin.on("data", () => process.ppid)', 'one', '', 'three'])
      expect(lists.args).toEqual(strings(cmdline))
      const raw = await first<Cmdline<Uint8Array>>({ chars: { args: 'bytes' } })
      const expected = Buffer.alloc(128)
      cmdline.copy(expected)
      expect(Buffer.from(raw.args)).toEqual(expected)
      // By default, only the first string: what the option is for.
      expect((await first<Cmdline<string>>({})).args).toBe(process.execPath)
      const view = await first<Cmdline<string[]>>({ chars: { args: 'strings' } }, 'batch')
      expect(view.args).toEqual(lists.args)
    } finally {
      child.kill()
      await exited
    }
  })

  it("a map's { chars } reads the list, and writing it back leaves the bytes as they were", async () => {
    const o = await capture()
    void process.ppid
    const before = o.map('last').raw.lookup(Buffer.alloc(4))!
    const last = o.map<number, Cmdline<string[]>>('last', { chars: { args: 'strings' } })
    expect(o.map('last', { chars: { args: 'strings' } })).toBe(last)
    const line = last.get(0)!
    expect(line.args).toEqual(strings(before.subarray(24)))
    last.set(0, line)
    expect(o.map('last').raw.lookup(Buffer.alloc(4))).toEqual(before)
    last.set(0, { ...line, args: ['a', '', 'b'] })
    expect(o.map('last').raw.lookup(Buffer.alloc(4))!.subarray(24, 30)).toEqual(Buffer.from('a\0\0b\0\0', 'latin1'))
    expect(last.get(0)!.args).toEqual(['a', '', 'b'])
    // The plain map is untouched by the other one's options.
    expect(o.map('last').get(0).args).toBe('a')
  })

  it('any bytes read as strings or bytes write back unchanged', () => {
    const btf = Btf.parse(fixture('cmdline.bpf.o'))
    const id = btf.find('cmdline', 'struct')!.id
    const lists = btf.codec(id, { chars: { args: 'strings', comm: 'bytes' } })
    for (const args of ['', 'ls\0-l\0', 'a\0\0b', '\0\0x', 'x'.repeat(128), 'caf\xc3\xa9\0\xff\xfe\0end']) {
      const bytes = Buffer.alloc(lists.size)
      bytes.write('bash\0junk', 8, 'latin1')
      bytes.write(args, 24, 'latin1')
      const value = lists.decode(bytes)
      expect(value.comm).toBeInstanceOf(Uint8Array)
      expect(lists.encode(value)).toEqual(bytes)
    }
    const value = lists.decode(Buffer.concat([Buffer.alloc(24), Buffer.from('caf\xc3\xa9\0\xff\0\0', 'latin1'), Buffer.alloc(119)]))
    expect(value.args).toEqual(['café', '\udcff'])
  })

  it('refuses paths that name no char[N] field, unknown modes, and lists that do not fit; nothing reaches the kernel', async () => {
    const o = await capture()
    const unknown = thrown(() => o.ringBuffer('cmdlines', { type: 'cmdline', chars: { argv: 'strings' } }))
    expect(unknown).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    expect(unknown.message).toContain("chars: 'argv' is not a char[N] field of struct cmdline (its char[N] fields: comm, args)")
    expect(thrown(() => o.map('last', { chars: { pid: 'strings' } })).message).toContain("'pid' is not a char[N] field")
    for (const chars of [{ args: 'lines' }, 'args', null, [], Symbol('chars')]) {
      expect(thrown(() => o.map('last', { chars: chars as never })).origin).toBe('argument')
      expect(thrown(() => o.ringBuffer('cmdlines', { type: 'cmdline', chars: chars as never })).origin).toBe('argument')
    }
    const last = o.map('last', { chars: { args: 'strings' } })
    for (const args of ['ls', ['a\0b'], [1], ['x'.repeat(120), 'y'.repeat(8)]]) {
      expect(thrown(() => last.set(0, { args: args as never })).code).toBe('EINVAL')
    }
    expect(thrown(() => last.set(0, { args: ['x'.repeat(120), 'y'.repeat(8)] })).message).toContain('2 strings take more than the 128 bytes')
    expect(o.map('last').get(0).bytes).toBe(0)
  })
})
