// Random sequences of public calls (fast-check): wrong types and sizes, NaN, negative and huge numbers,
// Symbols, null-prototype objects and detached buffers, calls after close, close during load, double
// close, pause/resume/close orders, and workers that end in the middle of what they do. After every
// call: no crash and nothing thrown but a BpfError; after every sequence: no file descriptor left.
// BPFKIT_SEQUENCES sets how many sequences run (the nightly run: 2,000).
import { Worker } from 'node:worker_threads'
import * as path from 'node:path'
import * as fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfError, BpfMap, BpfObject, Link, elfFunctions, generateSkeleton, openSkeleton, probeKernel, resolveBinary, setLogger, type PerfBuffer, type RingBuffer } from 'bpfkit'
import { SCALE, bpfFds, fixture, openFds, root, trigger, waitFor } from './helpers'

const RUNS = Number(process.env.BPFKIT_SEQUENCES) || 150
const FIXTURES = ['sequence.bpf.o', 'maps.bpf.o', 'globals.bpf.o', 'attach.bpf.o'] as const

/** A Uint8Array whose buffer has been transferred away. */
function detached(): Uint8Array {
  const bytes = new Uint8Array(8)
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] })
  return bytes
}

/** Any JavaScript value a caller might pass by mistake, and the edges of the right ones. */
const anything: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, NaN, -1, -0, 0, 1, 2 ** 31, 2 ** 32, 2 ** 53, Infinity, -Infinity, 1.5, '', 'any', 'exist',
    '__proto__', 'toString', true, false, 0n, -1n, 2n ** 64n),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.uint8Array({ maxLength: 64 }),
  fc.constant(null).map(() => Symbol('x')),
  fc.constant(null).map(() => Object.create(null)),
  fc.constant(null).map(detached),
  fc.constant(null).map(() => Buffer.alloc(4)),
  fc.constant(null).map(() => ({ pid: 1, burst: 2, targets: 1 })),
  fc.constant(null).map(() => ({ saddr: 1, port: 2, proto: 3 })),
  fc.constant(null).map(() => [1, 2, 3]),
  fc.constant(null).map(() => () => 0),
)

interface World {
  objects: BpfObject[]
  links: Link[]
  readers: Array<RingBuffer<unknown> | PerfBuffer<unknown>>
  pending: Promise<unknown>[]
}

/** Only BpfErrors: anything else (a TypeError from inside bpfkit) fails the property. */
async function call(what: string, fn: () => unknown): Promise<void> {
  try {
    const result = fn()
    if (result instanceof Promise) await result
  } catch (error) {
    if (!(error instanceof BpfError)) throw new Error(`${what} threw ${(error as Error)?.name}: ${(error as Error)?.message}`, { cause: error })
  }
}

const pick = <T>(items: readonly T[], i: number): T | undefined => (items.length === 0 ? undefined : items[i % items.length])
const mapOf = (world: World, i: number, j: number): BpfMap | undefined => {
  const obj = pick(world.objects, i)
  try {
    return obj === undefined ? undefined : pick(obj.maps, j)
  } catch {
    return undefined
  }
}

type Step = (world: World) => Promise<void>

const index = fc.nat(64)
const steps: fc.Arbitrary<Step>[] = [
  fc.tuple(fc.constantFrom(...FIXTURES), fc.option(anything)).map(([name, options]) => async (world: World) => {
    await call('BpfObject.open', () => world.objects.push(BpfObject.open(fixture(name), (options ?? undefined) as undefined)))
  }),
  fc.tuple(fc.constantFrom(...FIXTURES), anything).map(([name, options]) => async (world: World) => {
    // The object's bytes with odd options (objectName, logLevel, limits… of any type).
    await call('BpfObject.open(bytes)', () => world.objects.push(BpfObject.open(require('node:fs').readFileSync(fixture(name)), { objectName: options, logLevel: options, limits: options, kernelLogLevel: options } as never)))
  }),
  anything.map((value) => async () => await call('BpfObject.open(value)', () => BpfObject.open(value as string))),
  fc.tuple(anything, anything).map(([a, b]) => async () => {
    // The entry points that take no object.
    await call('Link.openPinned', () => Link.openPinned(a as string).close())
    await call('BpfMap.openPinned', () => BpfMap.openPinned(a as string).close())
    await call('elfFunctions', () => elfFunctions(a as string))
    await call('resolveBinary', () => resolveBinary(a as string))
    await call('generateSkeleton', () => generateSkeleton(a as Uint8Array, b as never))
    await call('openSkeleton', () => openSkeleton(a as never, b as never).close())
    await call('setLogger', () => setLogger(a as null, b as never))
    setLogger(() => {})
    await call('probeKernel', () => probeKernel())
  }),
  fc.tuple(index, anything).map(([i, name]) => async (world: World) => {
    const obj = pick(world.objects, i)
    if (obj === undefined) return
    await call('obj.globals', () => obj.globals(name as string))
    await call('obj.program', () => obj.program(name as string))
    await call('obj.map', () => obj.map(name as string))
    await call('obj.btf', () => obj.btf)
    await call('obj.name', () => obj.name)
  }),
  index.map((i) => async (world: World) => {
    const obj = pick(world.objects, i)
    if (obj !== undefined) world.pending.push(obj.load().catch((error: unknown) => {
      if (!(error instanceof BpfError)) throw error
    }))
  }),
  index.map((i) => async (world: World) => {
    const obj = pick(world.objects, i)
    if (obj !== undefined) await call('obj.load awaited', () => obj.load())
  }),
  index.map((i) => async (world: World) => await call('obj.close', () => pick(world.objects, i)?.close())),
  index.map((i) => async (world: World) => await call('obj.attach', () => {
    const obj = pick(world.objects, i)
    if (obj !== undefined) world.links.push(...obj.attach())
  })),
  fc.tuple(index, index, anything).map(([i, j, value]) => async (world: World) => {
    await call('map.maxEntries', () => {
      const map = mapOf(world, i, j)
      if (map !== undefined) map.maxEntries = value as number
    })
  }),
  fc.tuple(index, index, anything).map(([i, j, value]) => async (world: World) => {
    await call('program.autoload', () => {
      const obj = pick(world.objects, i)
      const program = obj === undefined ? undefined : pick(obj.programs, j)
      if (program !== undefined) program.autoload = value as boolean
    })
  }),
  fc.tuple(index, fc.constantFrom('rodata', 'bss', 'data'), fc.constantFrom('threshold', 'hits', 'target_pid', 'calls', 'nope', '__proto__'), anything)
    .map(([i, section, name, value]) => async (world: World) => {
      await call(`obj.${section}.${name} =`, () => {
        const obj = pick(world.objects, i)
        if (obj !== undefined) obj[section][name] = value
      })
      await call(`obj.${section}.${name}`, () => pick(world.objects, i)?.[section][name])
    }),
  fc.tuple(index, index, anything, anything, anything).map(([i, j, key, value, flags]) => async (world: World) => {
    const map = mapOf(world, i, j)
    if (map === undefined) return
    await call('map.set', () => map.set(key as never, value as never, flags as never))
    await call('map.get', () => map.get(key as never, flags as number))
    await call('map.has', () => map.has(key as never))
    await call('map.delete', () => map.delete(key as never))
    await call('map.raw.lookup', () => map.raw.lookup(key as Uint8Array, flags as number))
    await call('map.raw.update', () => map.raw.update(key as Uint8Array, value as Uint8Array, flags as never))
  }),
  fc.tuple(index, index, anything).map(([i, j, keys]) => async (world: World) => {
    const map = mapOf(world, i, j)
    if (map === undefined) return
    await call('map.entries', () => [...map.entries()])
    await call('map.getMany', () => map.getMany(keys as never))
    await call('map.setMany', () => map.setMany(keys as never))
    await call('map.deleteMany', () => map.deleteMany(keys as never))
    await call('map.count', () => map.count())
    await call('map.push', () => map.push(keys as never))
    await call('map.pop', () => map.pop())
    await call('map.pin', () => map.pin(keys as string))
  }),
  fc.tuple(index, fc.constantFrom('events', 'other', 'settings', 'nope'), anything).map(([i, name, options]) => async (world: World) => {
    await call('obj.ringBuffer', () => {
      const obj = pick(world.objects, i)
      if (obj !== undefined) world.readers.push(obj.ringBuffer(name, (options ?? undefined) as never))
    })
  }),
  fc.tuple(index, anything).map(([i, options]) => async (world: World) => {
    await call('obj.perfBuffer', () => {
      const obj = pick(world.objects, i)
      if (obj !== undefined) world.readers.push(obj.perfBuffer('perf_events', (options ?? undefined) as never))
    })
  }),
  fc.tuple(index, fc.constantFrom('pause', 'resume', 'close', 'stats', 'wakeup', 'availableBytes'), anything).map(([i, action, value]) => async (world: World) => {
    const reader = pick(world.readers, i)
    if (reader === undefined) return
    await call(`reader.${action}`, () => {
      if (action === 'wakeup') (reader as RingBuffer<unknown>).wakeup = value as never
      else if (action === 'availableBytes') (reader as RingBuffer<unknown>).availableBytes?.(value as never)
      else reader[action]()
    })
  }),
  fc.tuple(index, anything).map(([i, burst]) => async (world: World) => {
    // Events while readers are open, paused or closed.
    await call('settings.set', () => pick(world.objects, i)?.map('settings').set(0, { pid: process.pid, burst: burst as number, targets: 3 }))
    trigger()
  }),
  fc.tuple(index, fc.constantFrom('close', 'pin', 'unpin', 'detach', 'info', 'fd'), anything).map(([i, action, value]) => async (world: World) => {
    const link = pick(world.links, i)
    if (link === undefined) return
    await call(`link.${action}`, () => (action === 'fd' ? link.fd : action === 'pin' ? link.pin(value as string) : link[action]()))
  }),
  fc.tuple(index, index, anything, anything).map(([i, j, a, b]) => async (world: World) => {
    const obj = pick(world.objects, i)
    let program
    try {
      program = obj === undefined ? undefined : pick(obj.programs, j)
    } catch {
      return
    }
    if (program === undefined) return
    await call('attachTracepoint', () => world.links.push(program.attachTracepoint(a as string, b as string)))
    await call('attachUprobe', () => world.links.push(program.attachUprobe(a as never)))
    await call('attachXdp', () => world.links.push(program.attachXdp(a as string, b as never)))
    await call('attachPerfEvent', () => world.links.push(program.attachPerfEvent(a as never)))
    await call('testRun', () => program.testRun(a as never))
    await call('setAttachTarget', () => program.setAttachTarget(a as string))
  }),
  fc.tuple(fc.constantFrom(...FIXTURES), fc.nat(4), fc.boolean()).map(([name, stop, terminate]) => async () => {
    // A worker that loads, attaches and reads, and ends (exit() or terminate()) at some point of that.
    const worker = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads')
      const { BpfObject, setLogger } = require(workerData.dist)
      setLogger(() => {})
      ;(async () => {
        const steps = [
          () => BpfObject.open(workerData.fixture),
          (obj) => { obj.load().catch(() => {}); return obj },
          async (obj) => { try { await obj.load() } catch {} return obj },
          (obj) => { try { obj.attach() } catch {} return obj },
          (obj) => { try { obj.ringBuffer('events').resume() } catch {} return obj },
        ]
        let obj
        for (let i = 0; i < steps.length; i++) {
          if (i === workerData.stop) { parentPort.postMessage('stopping'); if (!workerData.terminate) process.exit(0) }
          obj = await steps[i](obj)
        }
        parentPort.postMessage('done')
      })()`, { eval: true, workerData: { dist: path.join(root, 'dist/index.js'), fixture: fixture(name), stop, terminate } })
    worker.on('message', () => {
      if (terminate) void worker.terminate()
    })
    await new Promise((resolve, reject) => {
      worker.on('exit', resolve)
      worker.on('error', reject)
    })
  }),
]

describe('API sequences', () => {
  // The calls fail on purpose: keep libbpf's explanations out of the output.
  beforeAll(() => setLogger(() => {}))
  afterAll(() => setLogger(null))

  it(`${RUNS} random sequences of calls: nothing but BpfErrors, no crash, no descriptor left`, async () => {
    const fds = openFds()
    const kernel = bpfFds()
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(...steps), { minLength: 1, maxLength: 25 }), async (sequence) => {
        const world: World = { objects: [], links: [], readers: [], pending: [] }
        try {
          for (const step of sequence) await step(world)
        } finally {
          await Promise.all(world.pending)
          for (const reader of world.readers) reader.close()
          for (const link of world.links) link.close()
          for (const obj of world.objects) obj.close()
        }
        // Loads closed mid-way finish in the background; their descriptors go when they do.
        await waitFor(() => openFds() === fds, 10_000, `the descriptors to return to ${fds} (now ${openFds()})`)
        expect(bpfFds()).toEqual(kernel)
      }),
      { numRuns: RUNS, seed: Number(process.env.BPFKIT_SEQUENCE_SEED) || 16, endOnFailure: true },
    )
  }, 600_000 * SCALE)
})
