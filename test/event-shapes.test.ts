// The ring buffer benchmark's event shapes (bench/ringbuf/ringbuf.bpf.o, rings shrunk to 1 MiB) through
// every typed surface: 'data', batch.decode(i), batch.at(i), the async iterator and stream(), by default
// and with int64: 'number', each equal to the codec's decoding of the record's bytes. No timings.
import * as path from 'node:path'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { BpfObject, type Btf, type EventBatch, type EventView, type RingBuffer } from 'bpfkit'
import { root, thrown, waitFor } from './helpers'

// Events per run: several batches of each, few enough that comparing them stays quick.
const SHAPES = [
  { ring: 'rb32', fill: 0, type: 'ev32', events: 1000 },
  { ring: 'rb256', fill: 1, type: 'ev256', events: 100 },
  { ring: 'rbexec', fill: 2, type: 'ev_exec', events: 400 },
  { ring: 'rbmixed', fill: 3, type: 'ev_mixed', events: 400 },
] as const

type Event = Record<string, unknown>

/** A view's fields read through its getters, as a plain value shaped like `like`. */
function plain(view: unknown, like: unknown): unknown {
  if (like === null || typeof like !== 'object' || Array.isArray(like) || ArrayBuffer.isView(like)) return view
  const out: Event = {}
  for (const key of Object.keys(like)) out[key] = plain((view as Event)[key], (like as Event)[key])
  return out
}

describe('event shapes through every typed surface', () => {
  let obj: BpfObject
  let btf: Btf
  // What a non-UTF-8 filename looks like in the exec shape: invalid bytes, a lone surrogate's
  // encoding, a cut-off sequence, then valid UTF-8 (é, 😀).
  const badName = Buffer.from([0x2f, 0x62, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0xc3, 0x28, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0xe2, 0x82])

  beforeAll(async () => {
    obj = BpfObject.open(path.join(root, 'bench/ringbuf/ringbuf.bpf.o'))
    for (const { ring } of SHAPES) obj.map(ring).maxEntries = 1 << 20
    // A global read and written back is byte-identical (the events below carry what the kernel got).
    obj.rodata.filenames = [badName, '/bin/sh', 'ascii', '/usr/bin/ünïcode']
    obj.rodata.filenames = obj.rodata.filenames
    await obj.load()
    btf = obj.btf as Btf
  })
  afterAll(() => obj.close())

  function fill(shape: (typeof SHAPES)[number], events: number = shape.events): void {
    obj.map('settings').set(0, { fill_events: events, fill_ring: shape.fill, tgid: 0, burst: 0 })
    expect(obj.program('fill').testRun().retval).toBe(events)
  }

  /** The records' bytes as the 'batch' listener sees them, and each decoded by the codec. */
  function recorder(reader: RingBuffer<Event>, shape: (typeof SHAPES)[number], int64: 'bigint' | 'number' = 'bigint') {
    const codec = btf.codec((btf.find(shape.type, 'struct') as { id: number }).id, { int64 })
    const records: Buffer[] = []
    const decoded: unknown[] = []
    reader.on('batch', (batch) => {
      for (let i = 0; i < batch.count; i++) {
        const record = Buffer.copyBytesFrom(batch.bytes, batch.offsets[i] as number, batch.lengths[i] as number)
        records.push(record)
        decoded.push(codec.decode(record))
      }
    })
    return { records, expected: () => decoded }
  }

  for (const shape of SHAPES) {
    it(`${shape.type}: 'data', decode(i) and at(i) equal the codec's output, bigint and number`, async () => {
      for (const int64 of ['bigint', 'number'] as const) {
        const reader = obj.ringBuffer<Event>(shape.ring, { int64, batchEvents: 64 })
        const { records, expected } = recorder(reader, shape, int64)
        const data: Event[] = []
        const decoded: unknown[] = []
        const viewed: unknown[] = []
        reader.on('data', (event) => data.push(event))
        reader.on('batch', (batch: EventBatch<Event>) => {
          const like = expected().slice(-batch.count)
          for (let i = 0; i < batch.count; i++) {
            decoded.push(batch.decode(i))
            viewed.push(plain(batch.at(i), like[i]))
          }
        })
        await new Promise((resolve) => setImmediate(resolve))
        fill(shape)
        await waitFor(() => data.length === shape.events, 5000, `${shape.events} ${shape.type} events`)
        expect(records).toHaveLength(shape.events)
        const want = expected()
        expect(data).toEqual(want)
        expect(decoded).toEqual(want)
        expect(viewed).toEqual(want)
        expect(typeof (data[1] as Event)[shape.type === 'ev_exec' ? 'ppid' : 'seq']).toBe(shape.type === 'ev_exec' || int64 === 'number' ? 'number' : 'bigint')
        reader.close()
      }
    })

    it(`${shape.type}: the async iterator and stream() equal the codec's output`, async () => {
      const iterated = obj.ringBuffer<Event>(shape.ring, { batchEvents: 64 })
      const fromIterator = recorder(iterated, shape)
      const events: Event[] = []
      setImmediate(() => fill(shape))
      for await (const event of iterated) {
        events.push(event)
        if (events.length === shape.events) break
      }
      expect(events).toEqual(fromIterator.expected())

      const streamed = obj.ringBuffer<Event>(shape.ring, { batchEvents: 64 })
      const fromStream = recorder(streamed, shape)
      const stream = streamed.stream()
      expect(streamed.stream()).toBe(stream)
      const got: Event[] = []
      setImmediate(() => fill(shape))
      for await (const event of stream) {
        got.push(event as Event)
        if (got.length === shape.events) break
      }
      expect(got).toEqual(fromStream.expected())
      expect(streamed.closed).toBe(true)
    })
  }

  it('views: nested structs are views, fields are read-only, inspect and JSON show a copy, keeping a value outlives the view', async () => {
    const shape = SHAPES[3]
    const reader = obj.ringBuffer<Event>(shape.ring, { int64: 'number', batchEvents: 4 })
    let checked = false
    reader.on('batch', (batch) => {
      if (checked) return
      checked = true
      const first = batch.at(0) as EventView<{ seq: number; flow: { saddr: number; daddr: number } }>
      const seq = first.seq
      expect(first.flow.daddr).toBe(0x0200000a + seq)
      expect(batch.at(1)).toBe(first) // one reused view per map
      expect(first.seq).toBe(seq + 1)
      expect(first.flow.daddr).toBe(0x0200000a + seq + 1) // nested views are placed when read
      expect(thrown(() => ((first as { seq: number }).seq = 1)).code).toBe('EROFS')
      expect(JSON.parse(JSON.stringify(first))).toMatchObject({ seq: seq + 1, flow: { saddr: 0x0100000a } })
      expect(inspect(first)).toContain(`seq: ${seq + 1}`)
      expect(thrown(() => batch.at(batch.count)).code).toBe('EINVAL')
      expect(thrown(() => batch.at(-1)).code).toBe('EINVAL')
      for (const index of [Symbol('i'), '0', 0.5, NaN, null, undefined, 1n, {}]) {
        const calls = { at: batch.at, decode: batch.decode, map: batch.map, cpu: batch.cpu } as Record<string, (i: unknown) => unknown>
        for (const [name, call] of Object.entries(calls)) {
          const e = thrown(() => call.call(batch, index))
          expect([e.name, e.code], `${name}(${String(index)})`).toEqual(['BpfError', 'EINVAL'])
        }
      }
    })
    reader.resume()
    fill(shape, 8)
    await waitFor(() => checked)
    reader.close()
  })

  it('records larger than the batch buffer arrive whole: the buffer grows and views follow it', async () => {
    const shape = SHAPES[1]
    const reader = obj.ringBuffer<Event>(shape.ring, { batchBytes: 64 }) // 256-byte records, a 128-byte buffer to start
    const { expected } = recorder(reader, shape)
    const viewed: unknown[] = []
    const data: Event[] = []
    reader.on('batch', (batch) => {
      for (let i = 0; i < batch.count; i++) viewed.push(plain(batch.at(i), expected()[viewed.length]))
    })
    reader.on('data', (event) => data.push(event))
    await new Promise((resolve) => setImmediate(resolve))
    fill(shape, 20)
    await waitFor(() => data.length === 20)
    expect(data).toEqual(expected())
    expect(viewed).toEqual(expected())
    reader.close()
  })

  it('a filename that is not UTF-8 decodes losslessly: encoding the event gives back the bytes the kernel copied', async () => {
    const shape = SHAPES[2]
    const reader = obj.ringBuffer<Event>(shape.ring)
    const { records } = recorder(reader, shape)
    const events: Event[] = []
    reader.on('data', (event) => events.push(event))
    fill(shape, 4)
    await waitFor(() => events.length === 4)
    const codec = btf.codec((btf.find('ev_exec', 'struct') as { id: number }).id)
    const at = 12 + 16 // pid, ppid, uid, comm[16]
    const event = events[0] as { filename: string }
    expect(event.filename).toBe('/b\udcff\udcfe\udced\udca0\udc80\udcc3(é😀\udce2\udc82')
    expect(codec.encode(event).subarray(at, at + badName.length + 1)).toEqual(Buffer.concat([badName, Buffer.from([0])]))
    expect((records[0] as Buffer).subarray(at, at + badName.length + 1)).toEqual(Buffer.concat([badName, Buffer.from([0])]))
    expect((events[3] as { filename: string }).filename).toBe('/usr/bin/ünïcode')
    reader.close()
  })

  it('types the surfaces by the event type', () => {
    type Seq = { seq: bigint; a: bigint }
    const reader = obj.ringBuffer<Seq>('rb32')
    reader.on('data', (event) => expectTypeOf(event).toEqualTypeOf<Seq>())
    reader.on('batch', (batch) => {
      expectTypeOf(batch).toEqualTypeOf<EventBatch<Seq>>()
      expectTypeOf(batch.at(0)).toEqualTypeOf<EventView<Seq>>()
      expectTypeOf(batch.at(0).seq).toEqualTypeOf<bigint>()
    })
    reader.on('error', (error) => expectTypeOf(error).toEqualTypeOf<Error>())
    reader.close()
  })
})
