// Lifetime: nothing leaks across many objects, worker threads, or an unprivileged process.
import { execFileSync, spawn } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { BpfError, BpfObject } from 'bpfkit'
import { SCALE, addonPath, bpfFds, example, fixture, node, openFds, programExists, root, run, waitFor } from './helpers'

const dist = path.join(root, 'dist/index.js')

function runWorker(source: string): Promise<{ messages: unknown[]; code: number }> {
  const worker = new Worker(source, { eval: true, workerData: { dist, fixture: fixture('sequence.bpf.o') } })
  const messages: unknown[] = []
  worker.on('message', (message) => messages.push(message))
  return new Promise((resolve, reject) => {
    worker.on('error', reject)
    worker.on('exit', (code) => resolve({ messages, code }))
  })
}

describe('lifecycle', () => {
  // Each load relocates against the kernel's BTF (CO-RE): some 15 ms here, 350 ms on a slow machine. The
  // test takes as long as that needs (no timeout), so it never goes on running into the tests after it;
  // an emulated kernel (SCALE) does fewer rounds of the same (npm run soak does 10,000).
  it('opening, loading and closing many times leaves the descriptor count unchanged', { timeout: 0 }, async () => {
    const fds = openFds()
    for (let i = 0; i < Math.ceil(300 / SCALE); i++) {
      const obj = BpfObject.open(fixture('sequence.bpf.o'))
      try {
        await obj.load()
        if (i % 10 === 0) obj.attach()
      } finally {
        obj.close()
      }
    }
    expect(openFds()).toBe(fds)
  })

  it('close() cascades to links and ring buffers', async () => {
    const before = bpfFds()
    const obj = BpfObject.open(example('execsnoop.bpf.o'))
    await obj.load()
    const links = obj.attach()
    const reader = obj.ringBuffer('events')
    reader.resume()
    expect(bpfFds().links.length).toBe(before.links.length + 1)
    obj.close()
    expect(links[0].closed && reader.closed).toBe(true)
    expect(bpfFds()).toEqual(before)
  })

  it('loads and closes in a worker thread', async () => {
    const { messages, code } = await runWorker(`
      const { parentPort, workerData } = require('node:worker_threads')
      const { BpfObject } = require(workerData.dist)
      ;(async () => {
        const obj = BpfObject.open(workerData.fixture)
        await obj.load()
        obj.attach()
        parentPort.postMessage(obj.program('emit').id)
        obj.close()
        parentPort.postMessage(obj.state)
      })()
    `)
    expect(code).toBe(0)
    expect(messages[1]).toBe('closed')
    await waitFor(() => !programExists(messages[0] as number), 5000, 'the program to leave the kernel')
  })

  it('a worker that exits without closing leaves nothing behind', async () => {
    const before = bpfFds()
    const fds = openFds()
    const { messages } = await runWorker(`
      const { parentPort, workerData } = require('node:worker_threads')
      const { BpfObject } = require(workerData.dist)
      ;(async () => {
        const obj = BpfObject.open(workerData.fixture)
        await obj.load()
        obj.attach()
        obj.ringBuffer('events').resume()
        parentPort.postMessage(obj.program('emit').id)
        process.exit(0)
      })()
    `)
    expect(bpfFds()).toEqual(before)
    expect(openFds()).toBe(fds)
    await waitFor(() => !programExists(messages[0] as number), 5000, 'the program to leave the kernel')
  })

  it('a worker that exits with a ring buffer open does not crash a process that never loaded bpfkit', async () => {
    // The main thread does not load the addon, so Node unloads it when the worker ends: nothing of
    // it may run after that (libuv close callbacks included).
    const script = `
      const { Worker } = require('node:worker_threads')
      const worker = new Worker(\`
        const { BpfObject } = require(${JSON.stringify(dist)})
        const obj = BpfObject.open(${JSON.stringify(fixture('sequence.bpf.o'))})
        obj.load().then(() => { obj.ringBuffer('events').resume(); process.exit(0) })
      \`, { eval: true })
      worker.on('exit', (code) => setTimeout(() => console.log('worker exited', code), 100))
    `
    const result = await node(script)
    expect(result.signal).toBeNull()
    expect(result.status).toBe(0)
    expect(result.stdout.trim()).toBe('worker exited 0')
  })

  it('a worker terminated in the middle of native calls ends cleanly, never aborting the process', async () => {
    // terminate() stops the worker's JavaScript while an attach call is inside the addon: the error it
    // cannot throw any more must be dropped (it used to abort the process: std::terminate).
    const script = `
      const { Worker } = require('node:worker_threads')
      let ended = 0
      const start = () => {
        const worker = new Worker(\`
          const { parentPort } = require('node:worker_threads')
          const { BpfObject, setLogger } = require(${JSON.stringify(dist)})
          setLogger(() => {})
          const obj = BpfObject.open(${JSON.stringify(fixture('attach.bpf.o'))})
          obj.load().catch(() => {}).then(() => {
            parentPort.postMessage('attaching')
            for (let i = 0; i < 100; i++) { try { obj.attach() } catch {} }
          })\`, { eval: true })
        worker.on('message', () => void worker.terminate())
        worker.on('exit', () => (++ended < ${Math.ceil(20 / SCALE) + 4} ? start() : console.log('ended')))
      }
      start()`
    const result = await node(script)
    expect(result.signal).toBeNull()
    expect(result.stdout.trim()).toBe('ended')
  })

  it('loading without privileges is EPERM with a hint', async () => {
    // uid 65534 cannot read a clone under /root (mode 700): it gets a world-readable copy of what it runs.
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-unprivileged-'))
    try {
      fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true })
      fs.cpSync(path.join(root, 'node_modules/node-gyp-build'), path.join(copy, 'node_modules/node-gyp-build'), { recursive: true })
      fs.copyFileSync(path.join(root, 'package.json'), path.join(copy, 'package.json'))
      fs.copyFileSync(addonPath, path.join(copy, 'bpfkit.node'))
      fs.copyFileSync(fixture('sequence.bpf.o'), path.join(copy, 'sequence.bpf.o'))
      fs.chmodSync(copy, 0o755)
      const script = `
        const { BpfObject } = require('./dist/index.js')
        const obj = BpfObject.open('sequence.bpf.o', { logger: () => {} })
        obj.load().then(
          () => console.log(JSON.stringify({ loaded: true })),
          (e) => console.log(JSON.stringify({ name: e.name, code: e.code, op: e.op, hint: e.hint })),
        )
      `
      const result = await run(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, '-e', script],
        { cwd: copy, env: { ...process.env, BPFKIT_ADDON: path.join(copy, 'bpfkit.node') } },
      )
      expect(result.stderr).toBe('')
      const outcome = JSON.parse(result.stdout)
      expect(outcome).toMatchObject({ name: 'BpfError', code: 'EPERM' })
      expect(outcome.hint).toMatch(/root|CAP_BPF/)
    } finally {
      fs.rmSync(copy, { recursive: true, force: true })
    }
  })

  it('the process exits cleanly with objects, links and readers left open', async () => {
    const script = `
      const { BpfObject } = require(${JSON.stringify(dist)})
      ;(async () => {
        const obj = BpfObject.open(${JSON.stringify(fixture('sequence.bpf.o'))})
        await obj.load()
        obj.attach()
        obj.ringBuffer('events').resume()
        console.log(obj.program('emit').id)
        setTimeout(() => process.exit(0), 50)
      })()
    `
    const id = Number((await node(script)).stdout.trim())
    expect(id).toBeGreaterThan(0)
    return waitFor(() => !programExists(id), 5000, 'the program to leave the kernel')
  })
})

describe('links', () => {
  it('pins a link so the program stays attached after close, until the pin is removed', async () => {
    const pin = `/sys/fs/bpf/bpfkit-test-link-${process.pid}`
    const obj = BpfObject.open(example('execsnoop.bpf.o'))
    await obj.load()
    const programId = obj.programs[0].id
    const [link] = obj.attach()
    link.pin(pin)
    expect(link.pinPath).toBe(pin)
    expect(fs.existsSync(pin)).toBe(true)

    try {
      obj.close()
      // The pin holds the link, and the link the program.
      expect(programExists(programId)).toBe(true)
      const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'list'], { encoding: 'utf8' })) as { prog_id: number }[]
      expect(links.filter((l) => l.prog_id === programId)).toHaveLength(1)
    } finally {
      fs.rmSync(pin, { force: true })
    }
    await waitFor(() => !programExists(programId), 5000, 'the unpinned program to leave the kernel')
  })

  it('unpin() removes the pin and keeps the link', async () => {
    const pin = `/sys/fs/bpf/bpfkit-test-unpin-${process.pid}`
    await using obj = BpfObject.open(example('execsnoop.bpf.o'))
    await obj.load()
    const [link] = obj.attach()
    link.pin(pin)
    link.unpin()
    expect(fs.existsSync(pin)).toBe(false)
    expect(link.pinPath).toBeNull()
    expect(link.fd).toBeGreaterThan(0)
    link.close()
    expect(() => link.fd).toThrow(expect.objectContaining({ code: 'ECLOSED' }))
  })

  it('pinning outside bpffs fails with a hint', async () => {
    await using obj = BpfObject.open(example('execsnoop.bpf.o'))
    await obj.load()
    const [link] = obj.attach()
    let error: BpfError | undefined
    try {
      link.pin('/tmp/not-bpffs/link')
    } catch (e) {
      error = e as BpfError
    }
    expect(error).toBeInstanceOf(BpfError)
    expect(error?.op).toBe('bpf_link__pin')
  })
})

describe('close from a logger', () => {
  // libbpf logs in the middle of a call on the object; a close() from the logger waits for the call.
  it('a logger that closes the object during a load or an attach leaves nothing and crashes nothing', async () => {
    const before = { fds: openFds(), bpf: bpfFds() }
    let rejected: BpfObject | undefined
    rejected = BpfObject.open(fixture('rejected.bpf.o'), { logger: () => rejected?.close() })
    await expect(rejected.load()).rejects.toMatchObject({ code: 'EACCES', op: 'bpf_object__load' })
    expect(rejected.state).toBe('closed')

    let armed = false
    const obj: BpfObject = BpfObject.open(fixture('attach.bpf.o'), {
      logLevel: 'debug',
      logger: () => {
        if (armed) obj.close()
        armed = false
      },
    })
    for (const program of obj.programs) program.autoload = program.name === 'on_tracepoint'
    await obj.load()
    armed = true
    expect(() => obj.program('on_tracepoint').attachTracepoint('no_such_category', 'nope')).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    await Promise.resolve()
    expect(obj.state).toBe('closed')

    // A load that succeeds (libbpf logs it at debug): load() resolves, then the close comes.
    let closing = false
    const loaded: BpfObject = BpfObject.open(fixture('attach.bpf.o'), { logLevel: 'debug', logger: () => closing && ((closing = false), loaded.close()) })
    for (const program of loaded.programs) program.autoload = program.name === 'on_tracepoint'
    closing = true
    await loaded.load()
    expect(loaded.state).toBe('closed')
    expect(bpfFds()).toEqual(before.bpf)
    expect(openFds()).toBe(before.fds)
  })
})

describe('close during load', () => {
  it('close() while load() runs rejects the load with ECLOSED and leaves nothing in the kernel', async () => {
    const before = bpfFds()
    const obj = BpfObject.open(example('execsnoop.bpf.o'))
    const loading = obj.load()
    expect(obj.state).toBe('loading')
    expect(() => obj.programs[0].fd).toThrow(expect.objectContaining({ code: 'EBUSY' }))
    obj.close()
    expect(obj.state).toBe('closed')
    const error = await loading.then(() => undefined, (e: BpfError) => e)
    expect(error).toBeInstanceOf(BpfError)
    // About the close, not about the kernel (which refused nothing).
    expect(error).toMatchObject({ code: 'ECLOSED', op: 'bpf_object__load' })
    expect(error!.message).toMatch(/closed during load\(\)/)
    expect(error!.hint).toMatch(/close\(\) came while load\(\) ran/)
    expect(bpfFds()).toEqual(before)
  })

  it('close() during a long load returns at once: the event loop keeps running, the load ends in the background', async () => {
    const before = bpfFds()
    const obj = BpfObject.open(fixture('maps.bpf.o'))
    // A per-CPU array of 2^21 entries (2^18 emulated): BPF_MAP_CREATE allocates each entry on each CPU,
    // seconds of work.
    obj.map('percpu_slots').maxEntries = SCALE > 1 ? 1 << 18 : 1 << 21
    const started = performance.now()
    const loading = obj.load().then(() => undefined, (e: BpfError) => e)
    // The load is under way once its first maps exist (percpu_slots comes after four others).
    await waitFor(() => bpfFds().maps.length > before.maps.length, 10_000, 'the load to create its first maps')
    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    const closing = performance.now()
    obj.close()
    const closed = performance.now() - closing
    const error = await loading
    const total = performance.now() - started
    clearInterval(timer)
    expect(error).toMatchObject({ code: 'ECLOSED' })
    // The load itself took a while: a close() that waited for it would have taken most of that.
    expect(total).toBeGreaterThan(300)
    expect(closed).toBeLessThan(total / 4)
    expect(ticks).toBeGreaterThan(3)
    expect(bpfFds()).toEqual(before)
  })

  it('a worker that exits during load() leaves nothing behind', async () => {
    const before = bpfFds()
    const { code } = await runWorker(`
      const { workerData } = require('node:worker_threads')
      const { BpfObject } = require(workerData.dist)
      const obj = BpfObject.open(workerData.fixture)
      obj.load()
      process.exit(0)
    `)
    expect(code).toBe(0)
    expect(bpfFds()).toEqual(before)
  })
})

describe('extraBtf', () => {
  it('leaves no file behind, whether the process exits, drops the object, or is killed', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-extrabtf-'))
    const script = (end: string): string => `
      const { BpfObject } = require(${JSON.stringify(dist)})
      let obj = BpfObject.open(${JSON.stringify(example('execsnoop.bpf.o'))}, { extraBtf: [${JSON.stringify(fixture('skel-v1.bpf.o'))}] })
      ${end}`
    try {
      // TMPDIR is where a temporary file would go (os.tmpdir()).
      const env = { ...process.env, TMPDIR: tmp }
      expect((await node(script('obj = null; global.gc?.()'), { env })).status).toBe(0)
      expect((await node(script('process.exit(0)'), { env })).status).toBe(0)
      const killed = spawn(process.execPath, ['-e', script("console.log('opened'); setInterval(() => {}, 1000)")], { env })
      await new Promise<void>((resolve) => killed.stdout.once('data', () => resolve()))
      killed.kill('SIGKILL')
      await new Promise((resolve) => killed.once('exit', resolve))
      expect(fs.readdirSync(tmp)).toEqual([])
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  })
})
