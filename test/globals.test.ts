// Typed globals: initial values set before load reach the program, .data/.bss are the kernel's memory
// after load (read without a syscall), .rodata refuses writes after load.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BpfObject } from 'bpfkit'
import { fixture, root, run, thrown } from './helpers'

describe('globals', () => {
  let obj: BpfObject | undefined
  afterEach(() => obj?.close())

  it('rodata set before load is what the program sees; bss and data are shared with it', async () => {
    obj = BpfObject.open(fixture('globals.bpf.o'))
    expect(obj.rodata.threshold).toBe(7)
    expect(obj.rodata.label).toBe('init')
    expect(obj.rodata.limits).toEqual({ low: 1, high: 2 })
    expect(Object.keys(obj.rodata)).toEqual(['threshold', 'label', 'limits'])
    obj.rodata.threshold = 42
    obj.rodata.label = 'hello'
    obj.rodata.limits = { high: 9 }
    expect(obj.data.calls).toBe(5n)
    await obj.load()

    const bump = obj.program('bump')
    bump.testRun()
    expect(obj.bss.seen_threshold).toBe(42)
    expect(obj.bss.seen_label).toBe('hello')
    expect(obj.bss.seen_limits).toEqual({ low: 0, high: 9 })
    expect(obj.bss.hits).toBe(1n)
    expect(obj.data.calls).toBe(6n)
    expect(obj.globals('.data.custom').custom_value).toBe(4)

    // Writes after load go to the kernel's memory: the program reads them on its next run.
    obj.data.calls = 100
    obj.bss.from_user = 0xdeadbeefn
    bump.testRun()
    bump.testRun()
    expect(obj.data.calls).toBe(102n)
    expect(obj.bss.seen_from_user).toBe(0xdeadbeefn)
    expect(obj.bss.hits).toBe(3n)
    expect(obj.rodata.threshold).toBe(42)
  })

  it('a string global that is not UTF-8 reads and writes back byte for byte, through the kernel', async () => {
    obj = BpfObject.open(fixture('globals.bpf.o'), { int64: 'number' })
    const bytes = Buffer.from([0x41, 0xff, 0xc0, 0xaf, 0xf0, 0x9f, 0x98])
    obj.rodata.label = bytes
    const label = obj.rodata.label as string
    expect(label).toBe('A\udcff\udcc0\udcaf\udcf0\udc9f\udc98')
    obj.rodata.label = label
    await obj.load()
    obj.program('bump').testRun() // copies label into .bss seen_label
    expect(obj.bss.seen_label).toBe(label)
    obj.bss.seen_label = obj.bss.seen_label
    const seen = obj.map('globals.bss').raw.lookup(Buffer.alloc(4)) as Buffer
    expect(seen.includes(Buffer.concat([bytes, Buffer.from([0])]))).toBe(true)
    expect(obj.bss.hits).toBe(1) // int64: 'number' for the whole object
  })

  it('runs a syscall program, which writes its results back into the context', async () => {
    obj = BpfObject.open(fixture('globals.bpf.o'))
    await obj.load()
    const args = Buffer.from(new Uint32Array([40, 2, 0]).buffer)
    expect(obj.program('add').testRun({ ctx: args }).retval).toBe(-42)
    expect(args.readUInt32LE(8)).toBe(42)
    expect(thrown(() => obj!.program('add').testRun({ ctx: args, repeat: 2 })).code).toBe('EINVAL')
    // Output room is refused past what the kernel writes back, before anything is allocated for it.
    for (const size of [{ dataOutSize: 0xffffffff }, { ctxOutSize: 2 ** 20 + 1 }]) {
      expect(thrown(() => obj!.program('add').testRun({ ctx: args, ...size })).message).toMatch(/OutSize is \d+ bytes, more than 1048576/)
    }
  })

  it('refuses rodata writes after load, unknown names and bad values, with nothing written', async () => {
    obj = BpfObject.open(fixture('globals.bpf.o'))
    const unknown = thrown(() => {
      obj!.rodata.thresold = 1
    })
    expect(unknown.code).toBe('ENOENT')
    expect(unknown.message).toContain("no global variable 'thresold' (variables: threshold, label, limits)")
    expect(thrown(() => (obj!.rodata.label = 'far too long')).message).toContain('.rodata.label: "far too long" is 12 bytes')
    expect(obj.rodata.label).toBe('init')
    expect(thrown(() => obj!.globals('.data.nothing')).code).toBe('ENOENT')
    await obj.load()
    const e = thrown(() => {
      obj!.rodata.threshold = 1
    })
    expect(e.code).toBe('EROFS')
    expect(e.message).toContain('read-only once the object is loaded')
    expect(obj.rodata.threshold).toBe(7)
    expect(thrown(() => (obj!.bss.hits = -1)).message).toContain('.bss.hits: -1 does not fit __u64')
    obj.close()
    expect(thrown(() => obj!.bss.hits).code).toBe('ECLOSED')
  })

  it('reads .bss counters without a syscall (strace sees no bpf() between two markers)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-globals-'))
    const script = path.join(dir, 'read.js')
    fs.writeFileSync(script, `
      const { BpfObject } = require(${JSON.stringify(root)})
      ;(async () => {
        const obj = BpfObject.open(${JSON.stringify(fixture('globals.bpf.o'))})
        await obj.load()
        obj.program('bump').testRun()
        obj.bss.hits
        require('node:fs').existsSync('/bpfkit-marker-start')
        let total = 0n
        for (let i = 0; i < 100; i++) total += obj.bss.hits
        require('node:fs').existsSync('/bpfkit-marker-end')
        console.log(String(total))
        obj.close()
      })()
    `)
    const trace = path.join(dir, 'trace')
    const traced = await run('strace', ['-f', '-qq', '-e', 'trace=bpf,access', '-o', trace, process.execPath, script])
    expect(traced.stdout.trim(), traced.stderr).toBe('100')
    const lines = fs.readFileSync(trace, 'utf8').split('\n')
    const markers = lines.flatMap((line, i) => (line.includes('bpfkit-marker') ? [i] : []))
    expect(markers.length).toBe(2)
    const between = lines.slice(markers[0] + 1, markers[1]).filter((line) => /\bbpf\(/.test(line))
    expect(lines.some((line) => /\bbpf\(/.test(line))).toBe(true)
    expect(between).toEqual([])
    fs.rmSync(dir, { recursive: true })
  })
})
