// Perf buffer reader on the real kernel: typed events in order, lost samples counted per CPU when a
// ring overflows, the same surfaces as ring buffers, and no leak on close.
import { execFileSync } from 'node:child_process'
import { afterEach, describe, expect, expectTypeOf, it, onTestFinished } from 'vitest'
import type { BpfObject, OnCpu, PerfBuffer } from 'bpfkit'
import { configureSequence, openFds, openSequence, sequenceCounters, sleep, thrown, trigger, waitFor, type SeqEvent } from './helpers'

describe('PerfBuffer', () => {
  let obj: BpfObject | undefined

  afterEach(() => {
    obj?.close()
    obj = undefined
  })

  it('a perf event array has one reader in the process: a second is EBUSY and the first keeps its events', async () => {
    obj = await openSequence()
    configureSequence(obj, 100, 3)
    const first = obj.perfBuffer<SeqEvent>('perf_events')
    expect(thrown(() => obj!.perfBuffer('perf_events'))).toMatchObject({ code: 'EBUSY', origin: 'state', op: 'perf_buffer__new' })
    const seqs: bigint[] = []
    first.on('data', (event) => seqs.push(event.seq))
    trigger()
    await waitFor(() => seqs.length === 100)
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i)))
    first.close()
    obj.perfBuffer('perf_events').close()
  })

  it('delivers typed events in order, on every surface', async () => {
    obj = await openSequence()
    configureSequence(obj, 100, 3)
    const reader = obj.perfBuffer<SeqEvent>('perf_events', { type: 'seq_event' })
    const seqs: bigint[] = []
    let batches = 0
    reader.on('data', (event) => {
      expect(event.source).toBe(3)
      seqs.push(event.seq)
    })
    reader.on('batch', () => batches++)
    for (let i = 0; i < 10; i++) {
      trigger()
      await waitFor(() => seqs.length === (i + 1) * 100)
    }
    expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(i)))
    expect(batches).toBeGreaterThanOrEqual(10)
    expect(reader.stats()).toMatchObject({ events: 1000, lostTotal: 0 })
    reader.close()

    const iterated = obj.perfBuffer<SeqEvent>('perf_events', { type: 'seq_event' })
    setTimeout(() => trigger(), 10)
    const fromIterator: bigint[] = []
    for await (const event of iterated) {
      fromIterator.push(event.seq)
      if (fromIterator.length === 100) break
    }
    expect(fromIterator).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(1000 + i)))
  })

  it('types events by BPFKIT_PERFBUF and keeps the CPU of each: batch.cpu(i), and { cpu, event } with withCpu', async () => {
    obj = await openSequence()
    configureSequence(obj, 200, 3)
    const reader = obj.perfBuffer<SeqEvent>('perf_events')
    const cpus: Array<[number | undefined, number]> = []
    reader.on('batch', (batch) => {
      for (let i = 0; i < batch.count; i++) {
        cpus.push([batch.cpu(i), batch.decode(i).cpu])
        expect(batch.map(i)).toBe('perf_events')
        expect(batch.at(i).seq).toBe(batch.decode(i).seq)
      }
    })
    trigger()
    await waitFor(() => cpus.length === 200)
    expect(cpus.every(([fromRing, written]) => fromRing === written)).toBe(true)
    reader.close()

    const tagged = obj.perfBuffer<SeqEvent>('perf_events', { withCpu: true })
    expectTypeOf(tagged).toEqualTypeOf<PerfBuffer<OnCpu<SeqEvent>>>()
    const events: OnCpu<SeqEvent>[] = []
    tagged.on('data', (event) => events.push(event))
    trigger()
    await waitFor(() => events.length === 200)
    expect(events.map((e) => e.event.seq)).toEqual(Array.from({ length: 200 }, (_, i) => BigInt(200 + i)))
    expect(events.every((e) => e.cpu === e.event.cpu)).toBe(true)
    expect(thrown(() => obj!.perfBuffer('perf_events', { withCpu: 1 as never })).message).toContain('withCpu must be a boolean')
  })

  it('counts lost samples per CPU when a ring overflows, exactly as the program saw them fail', async () => {
    // The kernel reports a CPU's lost samples with that CPU's next sample: keep every trigger on one CPU.
    const cpus = execFileSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' }).split(':')[1]!.trim()
    execFileSync('taskset', ['-apc', '0', String(process.pid)], { stdio: 'ignore' })
    onTestFinished(() => {
      execFileSync('taskset', ['-apc', cpus, String(process.pid)], { stdio: 'ignore' })
    })
    obj = await openSequence()
    configureSequence(obj, 1024, 3)
    const reader = obj.perfBuffer<SeqEvent>('perf_events', { type: 'seq_event', pages: 1 })
    const seqs: bigint[] = []
    reader.on('data', (event) => seqs.push(event.seq))
    reader.pause()
    trigger(4) // 4096 events of 40 bytes each into 4 kB per CPU
    reader.resume()
    const { dropped } = sequenceCounters(obj)
    expect(dropped).toBeGreaterThan(0n)
    await waitFor(() => BigInt(seqs.length) + dropped === 4096n, 5000, 'the samples that fit')
    // The kernel reports lost samples with the next sample that fits.
    configureSequence(obj, 1, 3)
    trigger()
    await waitFor(() => reader.stats().lostTotal === Number(dropped) && seqs.length === 4097 - Number(dropped), 5000)
    const lost = reader.stats().lost
    expect(lost.length).toBeGreaterThanOrEqual(1)
    expect(lost.reduce((a, b) => a + b, 0)).toBe(Number(dropped))
    expect(new Set(seqs).size).toBe(seqs.length)
  })

  it('never swallows a wakeup: samples written after the drain at resume, before the loop polls again, arrive', async () => {
    // A perf fd reports a wakeup once, and every poll spends it, the one the kernel makes when the
    // fd joins an epoll set included. A reader that left libuv's epoll set on pause and rejoined it
    // on resume (or joined it only when first resumed) lost the wakeup of samples written between
    // its drain at resume and that registration, and they waited for the next sample. Here a timer
    // writes them at that point: libuv runs the reader's drain (due now) and then this timer (due in
    // 1 ms) in the next loop turn's timer phase, before its poll phase.
    const runSoon = (): void => {
      const until = performance.now() + 2
      while (performance.now() < until); // both timers due when the loop turns
    }
    obj = await openSequence()
    configureSequence(obj, 10, 3)
    const reader = obj.perfBuffer<SeqEvent>('perf_events', { type: 'seq_event' })
    const seqs: bigint[] = []
    reader.on('data', (event) => seqs.push(event.seq))
    for (let round = 1; round <= 20; round++) {
      reader.pause()
      setTimeout(() => trigger(), 1)
      reader.resume()
      runSoon()
      await waitFor(() => seqs.length === round * 10, 5000, `the samples after resume number ${round}`)
    }
    reader.close()
    // The same for a new reader, when reading starts.
    for (let round = 1; round <= 5; round++) {
      const fresh = obj.perfBuffer<SeqEvent>('perf_events', { type: 'seq_event' })
      const got: bigint[] = []
      setTimeout(() => trigger(), 1)
      fresh.on('data', (event) => got.push(event.seq))
      runSoon()
      await waitFor(() => got.length === 10, 5000, `the samples of new reader number ${round}`)
      fresh.close()
    }
    expect(new Set(seqs).size).toBe(200)
  })

  it('refuses bad options and maps of other types; closing leaks nothing', async () => {
    const fds = openFds()
    obj = await openSequence()
    expect(thrown(() => obj!.perfBuffer('events')).message).toContain('not a perf_event_array')
    expect(thrown(() => obj!.perfBuffer('perf_events', { pages: 3 })).message).toContain('pages must be a power of 2')
    const reader = obj.perfBuffer('perf_events')
    reader.resume()
    await sleep(10)
    reader.close()
    expect(() => reader.resume()).toThrow(expect.objectContaining({ code: 'ECLOSED' }))
    obj.close()
    obj = undefined
    expect(openFds()).toBe(fds)
  })
})
