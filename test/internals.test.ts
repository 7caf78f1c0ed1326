// bpfkit.bpf.h's own maps and variables are not the program's: typed surfaces leave them out, and
// they stay reachable by name for debugging.
import * as fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BpfObject, generateSkeleton } from 'bpfkit'
import { example, fixture } from './helpers'

describe("bpfkit's internals", () => {
  it('obj.maps and the globals do not list them; obj.map(name) and the variable by name still reach them', async () => {
    await using obj = BpfObject.open(fixture('sequence.bpf.o'))
    const names = obj.maps.map((map) => map.name)
    expect(names).toEqual(expect.arrayContaining(['events', 'settings', 'counters']))
    expect(names.filter((name) => name.startsWith('bpfkit_'))).toEqual([])
    expect(obj.map('bpfkit_ringbuf_config').type).toBe('hash')
    expect(obj.map('bpfkit_ringbuf_dropped').type).toBe('percpu_hash')
    await obj.load()
    expect(Object.keys(obj.bss).filter((name) => name.endsWith('__bpfkit_event'))).toEqual([])
    expect(typeof obj.bss.events__bpfkit_event).toBe('bigint')
    // The readers still use them: drops are counted.
    expect(obj.ringBuffer('events').stats().dropped).toBe(0)
  })

  it('generated skeletons leave them out', () => {
    const source = generateSkeleton(fs.readFileSync(fixture('sequence.bpf.o')), { objectPath: 'test/fixtures/sequence.bpf.o' })
    expect(source).not.toMatch(/bpfkit_ringbuf|__bpfkit_event|BpfkitRingbufConfig/)
    expect(source).toContain('events: RingBufferMap<Int64<SeqEvent, I>, SeqEvent>')
    expect(fs.readFileSync(example('execsnoop.skel.ts'), 'utf8')).not.toMatch(/bpfkit_ringbuf|__bpfkit_event/)
  })
})
