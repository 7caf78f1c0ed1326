// The addon's native paths under valgrind's memcheck (npm run test:valgrind, part of the nightly run):
// open (file, bytes, corrupt, extraBtf), globals, load, attach and detach, typed, raw, batch and per-CPU
// maps, ring and perf buffers with events, links, BTF, test runs and close. Errors whose stack reaches
// the addon (bpfkit.node, with libbpf inside) fail the run; those of Node itself are only counted.
//   node test/valgrind.mjs            runs valgrind on `node test/valgrind.mjs --exercise`
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const fixture = (name) => path.join(root, 'test/fixtures', name)

async function exercise() {
  const { BpfObject, Btf, setLogger } = createRequire(import.meta.url)(path.join(root, 'dist/index.js'))
  setLogger(() => {})
  const attempt = (fn) => {
    try {
      return fn()
    } catch {
      return undefined
    }
  }
  // Objects that libbpf refuses, at open and at load.
  const bytes = fs.readFileSync(fixture('sequence.bpf.o'))
  for (let i = 0; i < 40; i++) {
    const broken = Buffer.from(bytes)
    for (let flip = 0; flip < 4; flip++) broken[(i * 7919 + flip * 104729) % broken.length] ^= 1 << ((i + flip) % 8)
    const obj = attempt(() => BpfObject.open(broken))
    if (obj) await obj.load().catch(() => {}).finally(() => obj.close())
  }
  attempt(() => BpfObject.open(bytes.subarray(0, 1000)))
  attempt(() => BpfObject.open('/nonexistent.bpf.o'))

  // Globals, load, attach, events.
  const seq = BpfObject.open(fixture('sequence.bpf.o'))
  await seq.load()
  const links = seq.attach()
  const ring = seq.ringBuffer(['events', 'other'])
  const perf = seq.perfBuffer('perf_events')
  let events = 0
  ring.on('data', () => events++)
  perf.on('data', () => events++)
  seq.map('settings').set(0, { pid: process.pid, burst: 200, targets: 3 })
  for (let i = 0; i < 5; i++) process.getegid()
  await new Promise((resolve) => setTimeout(resolve, 500))
  ring.pause()
  process.getegid()
  ring.resume()
  ring.close()
  perf.close()
  for (const link of links) link.close()
  seq.close()

  const globals = BpfObject.open(fixture('globals.bpf.o'))
  globals.rodata.threshold = 42
  await globals.load()
  globals.program('bump').testRun()
  void [globals.bss.hits, globals.data.calls]
  globals.data.calls = 100
  globals.close()

  // Maps: typed, raw, batches, per-CPU, queue, bloom, LPM.
  const maps = BpfObject.open(fixture('maps.bpf.o'))
  await maps.load()
  const flows = maps.map('flows')
  for (let i = 0; i < 100; i++) flows.set({ saddr: i, port: 80, proto: 6 }, { packets: i, label: 'x' })
  void [...flows.entries()]
  flows.setMany(Array.from({ length: 50 }, (_, i) => [{ saddr: 1000 + i, port: 1, proto: 17 }, { packets: 1 }]))
  flows.getMany()
  flows.deleteMany([{ saddr: 1000, port: 1, proto: 17 }])
  flows.clear()
  attempt(() => flows.raw.lookup(Buffer.alloc(3)))
  maps.map('percpu_counts').set(1, 5)
  maps.map('percpu_counts').get(1)
  maps.map('fifo').push({ saddr: 1, port: 2, proto: 3 })
  maps.map('fifo').pop()
  maps.map('seen').add(42)
  maps.map('seen').has(42)
  maps.map('routes').set({ prefixlen: 16, addr: [10, 1, 0, 0] }, 2)
  maps.close()

  // Networking-free attach types, links, BTF.
  const attach = BpfObject.open(fixture('attach.bpf.o'))
  await attach.load()
  const tp = attach.program('on_tracepoint').attachTracepoint('syscalls', 'sys_enter_getppid')
  void [process.ppid, tp.info(), attach.program('on_tracepoint').info()]
  const perfEvent = attach.program('on_perf_event').attachPerfEvent({ type: 'software', config: 'cpu-clock', sampleFreq: 99 })
  perfEvent.close()
  tp.close()
  attach.close()
  const vmlinux = Btf.vmlinux()
  const task = vmlinux.find('task_struct', 'struct')
  vmlinux.codec(task.id).decode(Buffer.alloc(task.size))
  vmlinux.close()
  const merged = BpfObject.open(fixture('sequence.bpf.o'), { extraBtf: [fixture('skel-v1.bpf.o')] })
  await merged.load()
  merged.close()

  // close() during load(), and a worker ending without close().
  const loading = BpfObject.open(fixture('maps.bpf.o'))
  const pending = loading.load().catch(() => {})
  loading.close()
  await pending
  process.stdout.write(`exercised: ${events} events\n`)
}

function run() {
  const xml = path.join(os.tmpdir(), `bpfkit-valgrind-${process.pid}.xml`)
  const started = Date.now()
  const result = spawnSync('valgrind', [
    '--tool=memcheck', '--xml=yes', `--xml-file=${xml}`, '--track-origins=yes', '--num-callers=30',
    // V8's generated code and its garbage collector confuse memcheck: keep Node as plain as it goes.
    process.execPath, '--jitless', '--single-threaded-gc', fileURLToPath(import.meta.url), '--exercise',
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const report = fs.readFileSync(xml, 'utf8')
  fs.rmSync(xml, { force: true })
  const all = [...report.matchAll(/<error>([\s\S]*?)<\/error>/g)].map((m) => m[1])
  // Valgrind does not see what the kernel writes into a log buffer when a bpf() call fails, so libbpf's
  // logs of a refused BTF or helper probe read as uninitialised wherever they go (libbpf's print, the
  // logger). Those are told apart by where the memory came from: the second stack, the origin.
  const kernelLog = (e) => /btf_load_into_kernel|libbpf_probe_bpf_helper/.test(e.split('<stack>')[2] ?? '')
  const logs = all.filter(kernelLog)
  const errors = all.filter((e) => !kernelLog(e))
  const ours = errors.filter((e) => /bpfkit\.node/.test(e))
  const kinds = (list) => Object.entries(list.reduce((counts, e) => {
    const kind = /<kind>(.*?)<\/kind>/.exec(e)?.[1] ?? '?'
    counts[kind] = (counts[kind] ?? 0) + 1
    return counts
  }, {})).map(([kind, n]) => `${kind} ${n}`).join(', ') || 'none'
  process.stdout.write(`${result.stdout}valgrind: ${Math.round((Date.now() - started) / 1000)} s, exit ${result.status}; ` +
    `errors in the addon (bpfkit.node, libbpf): ${ours.length} (${kinds(ours)}); in Node itself: ${errors.length - ours.length} (${kinds(errors.filter((e) => !ours.includes(e)))}); ` +
    `reads of logs the kernel wrote on a refused bpf() call, which valgrind cannot see: ${logs.length}\n`)
  // Each distinct error once (by its kind and its first frames), with how often it came.
  const distinct = new Map()
  for (const error of ours) {
    const what = /<what>(.*?)<\/what>|<text>(.*?)<\/text>/.exec(error)
    const [, stack = '', origin = ''] = error.split('<stack>')
    const frames = (text, n) => [...text.matchAll(/<fn>(.*?)<\/fn>/g)].slice(0, n).map((m) => m[1]).join(' ← ')
    const line = `${what?.[1] ?? what?.[2]}: ${frames(stack, 8)}${origin ? `; from ${frames(origin, 6)}` : ''}`
    distinct.set(line, (distinct.get(line) ?? 0) + 1)
  }
  for (const [line, n] of distinct) process.stdout.write(`  ${n} × ${line}\n`)
  process.exitCode = result.status === 0 && ours.length === 0 && result.stdout.includes('exercised:') ? 0 : 1
}

if (process.argv.includes('--exercise')) await exercise()
else run()
