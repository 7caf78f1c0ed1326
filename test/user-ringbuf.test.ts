// User ring buffers: records written from JavaScript, drained by a BPF program.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BpfObject, features, generateSkeleton } from 'bpfkit'
import { bpfFds, fixture, root, thrown } from './helpers'

async function load(): Promise<BpfObject> {
  const obj = BpfObject.open(fixture('user-ringbuf.bpf.o'))
  obj.rodata.target_pid = process.pid
  await obj.load()
  obj.attach()
  return obj
}

describe.runIf(features.mapType('user_ringbuf'))('user ring buffers', () => {
  it('typed records written from JavaScript are drained by the program, in order', async () => {
    await using obj = await load()
    using commands = obj.userRingBuffer('commands')
    expect(commands.size).toBe(16384)
    for (let i = 1; i <= 10; i++) commands.write({ op: i, value: i * 10, tag: `cmd${i}` })
    expect(commands.written).toBe(10)
    expect(obj.bss.drained).toBe(0n)
    void process.ppid // the program drains on getppid()
    expect(obj.bss).toMatchObject({ drained: 10n, total: 550n, last_op: 10, last_tag: 'cmd10' })
    // Bytes work too (a record the program reads as struct command).
    const raw = Buffer.alloc(16)
    raw.writeUInt32LE(99, 0)
    raw.writeUInt32LE(1, 4)
    raw.write('raw', 8)
    commands.write(raw)
    void process.ppid
    expect(obj.bss).toMatchObject({ drained: 11n, total: 551n, last_op: 99, last_tag: 'raw' })
  })

  it('a full ring, a bad record and a map of another type are BpfErrors with hints; nothing leaks', async () => {
    const before = bpfFds()
    const obj = await load()
    const commands = obj.userRingBuffer('commands')
    // 16 KiB of 24-byte slots (8-byte header): the ring fills before the program drains it.
    let written = 0
    const full = thrown(() => {
      for (;;) {
        commands.write({ op: 1, value: 1 })
        written++
      }
    })
    expect(full).toMatchObject({ code: 'ENOSPC', op: 'userRingBuffer.write' })
    expect(full.hint).toMatch(/bpf_user_ringbuf_drain/)
    expect(written).toBeGreaterThan(600)
    void process.ppid
    expect(obj.bss.drained).toBe(BigInt(written))
    commands.write({ op: 2, value: 2 })
    expect(thrown(() => commands.write({ op: 'x' } as never))).toMatchObject({ code: 'EINVAL' })
    expect(thrown(() => commands.write(Buffer.alloc(0))).origin).toBe('argument')
    expect(thrown(() => obj.userRingBuffer('target_pid' as string)).code).toBe('ENOENT')
    const wrong = thrown(() => obj.userRingBuffer('commands', { type: 'no_such_struct' }))
    expect(wrong.code).toBe('ENOENT')
    // One writer per map in the process: the ring has one producer position.
    const second = thrown(() => obj.userRingBuffer('commands'))
    expect(second).toMatchObject({ code: 'EBUSY', message: expect.stringContaining("map 'commands' already has a writer in this process") })
    commands.close()
    expect(thrown(() => commands.write({ op: 1 })).code).toBe('ECLOSED')
    const again = obj.userRingBuffer('commands')
    obj.close()
    expect(again.closed).toBe(true)
    expect(bpfFds()).toEqual(before)
  })

  it('a skeleton types the ring and its records, and writes through writer()', async () => {
    const source = generateSkeleton(fs.readFileSync(fixture('user-ringbuf.bpf.o')), { objectPath: 'test/fixtures/user-ringbuf.bpf.o' })
    expect(source).toContain("  /** user_ringbuf map 'commands' */\n  commands: UserRingBufferMap<Command>")
    const file = path.join(root, 'build', `user-ringbuf-${process.pid}.skel.ts`)
    fs.writeFileSync(file, source)
    try {
      const { open } = (await import(file)) as typeof import('../test/fixtures/types.skel')
      const skel = (open as unknown as () => any)()
      skel.rodata.target_pid = process.pid
      await using loaded = await skel.load()
      loaded.attach()
      using writer = loaded.maps.commands.writer()
      writer.write({ op: 3, value: 33, tag: 'skel' })
      void process.ppid
      expect(loaded.bss).toMatchObject({ total: 33n, last_tag: 'skel' })
    } finally {
      fs.rmSync(file)
    }
  })
})
