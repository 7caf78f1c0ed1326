// Ring buffer reader: ordering across batches, pause/resume, several maps, iterators, close.
import { afterEach, describe, expect, it } from 'vitest'
import type { BpfObject } from 'bpfkit'
import {
  configureSequence,
  openFds,
  openSequence,
  seqDecoder,
  sequenceCounters,
  sleep,
  trigger,
  waitFor,
  type SeqEvent,
} from './helpers'

describe('RingBuffer', () => {
  let obj: BpfObject | undefined

  afterEach(() => {
    obj?.close()
    obj = undefined
  })

  it('delivers every event exactly once and in order across many batches', async () => {
    obj = await openSequence()
    configureSequence(obj, 1000)
    const reader = obj.ringBuffer('events', { decoder: seqDecoder, batchEvents: 64 })
    const seqs: bigint[] = []
    reader.on('data', (event) => seqs.push(event.seq))
    for (let i = 0; i < 20; i++) {
      trigger()
      await waitFor(() => seqs.length === (i + 1) * 1000, 5000, `burst ${i}`)
    }
    expect(sequenceCounters(obj).dropped).toBe(0n)
    expect(seqs).toEqual(Array.from({ length: 20_000 }, (_, i) => BigInt(i)))
    const stats = reader.stats()
    expect(stats.events).toBe(20_000)
    expect(stats.bytes).toBe(20_000 * 16)
    expect(stats.batches).toBeGreaterThanOrEqual(20_000 / 64)
  })

  it('gives raw Buffers when no decoder is set', async () => {
    obj = await openSequence()
    configureSequence(obj, 3)
    const reader = obj.ringBuffer('events')
    const events: Buffer[] = []
    reader.on('data', (event) => events.push(event))
    trigger()
    await waitFor(() => events.length === 3)
    expect(events.every((e) => Buffer.isBuffer(e) && e.length === 16)).toBe(true)
    expect(events.map((e) => e.readBigUInt64LE(0))).toEqual([0n, 1n, 2n])
  })

  it('stops delivering on pause() and continues on resume()', async () => {
    obj = await openSequence()
    configureSequence(obj, 100)
    const reader = obj.ringBuffer('events', { decoder: seqDecoder })
    const seqs: bigint[] = []
    reader.on('data', (event) => seqs.push(event.seq))
    trigger()
    await waitFor(() => seqs.length === 100)

    reader.pause()
    expect(reader.paused).toBe(true)
    trigger(3)
    await sleep(200)
    expect(seqs).toHaveLength(100)

    reader.resume()
    await waitFor(() => seqs.length === 400)
    expect(seqs).toEqual(Array.from({ length: 400 }, (_, i) => BigInt(i)))
  })

  it('reads several maps through one reader', async () => {
    obj = await openSequence()
    configureSequence(obj, 1000, 2)
    const reader = obj.ringBuffer(['events', 'other'], { decoder: seqDecoder })
    expect(reader.maps).toEqual(['events', 'other'])
    const events: SeqEvent[] = []
    reader.on('data', (event) => events.push(event))
    for (let i = 0; i < 4; i++) {
      trigger()
      await waitFor(() => events.length === (i + 1) * 1000)
    }
    for (const source of [0, 1]) {
      const seqs = events.filter((e) => e.source === source).map((e) => e.seq)
      expect(seqs).toEqual(Array.from({ length: 2000 }, (_, i) => BigInt(2 * i + source)))
    }
  })

  it('works as an async iterator; leaving the loop closes the reader', async () => {
    obj = await openSequence()
    configureSequence(obj, 50)
    const reader = obj.ringBuffer('events', { decoder: seqDecoder })
    setTimeout(() => trigger(), 10)
    const seqs: bigint[] = []
    for await (const event of reader) {
      seqs.push(event.seq)
      if (seqs.length === 50) break
    }
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)))
    expect(reader.closed).toBe(true)
  })

  it('ends iterators when closed mid-stream and leaks no descriptors', async () => {
    const fds = openFds()
    obj = await openSequence()
    configureSequence(obj, 10)
    const reader = obj.ringBuffer('events', { decoder: seqDecoder })
    setTimeout(() => trigger(), 10)
    let count = 0
    for await (const _ of reader) {
      count++
      if (count === 10) setTimeout(() => reader.close(), 10)
    }
    expect(count).toBe(10)
    expect(() => reader.resume()).toThrow(expect.objectContaining({ code: 'ECLOSED' }))
    obj.close()
    obj = undefined
    expect(openFds()).toBe(fds)
  })

  it('keeps the event loop responsive with a per-callback budget', async () => {
    obj = await openSequence()
    configureSequence(obj, 4000)
    const reader = obj.ringBuffer('events', { decoder: seqDecoder, batchEvents: 100 })
    let received = 0
    let timerRanMidway = false
    reader.on('data', () => {
      received++
    })
    trigger()
    setImmediate(() => {
      timerRanMidway = received < 4000
    })
    await waitFor(() => received === 4000)
    expect(timerRanMidway).toBe(true)
    expect(reader.stats().batches).toBeGreaterThanOrEqual(40)
  })
})
