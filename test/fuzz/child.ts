// A fuzzing child: runs inputs FROM..TO of a run through open → load → close, one after another, and
// says on stdout which input it starts (`> i`) and how each ended (`= i outcome detail`). When it
// dies, the parent knows the input that killed it.
//   node --import tsx test/fuzz/child.ts SEED FROM TO [--findings]
import * as fs from 'node:fs'
import * as path from 'node:path'
import { corpus, keptFindings, makeInput, root } from './mutate'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BpfError, BpfObject, setLogger } = require(path.join(root, 'dist/index.js')) as typeof import('bpfkit')

const [seed, from, to] = process.argv.slice(2, 5).map(Number) as [number, number, number]
const replay = process.argv.includes('--findings')

// libbpf explains every refusal at length: not wanted here.
setLogger(() => {})

// Maps declared LIBBPF_PIN_BY_NAME are pinned at load: here, not in /sys/fs/bpf itself, and removed.
const pinRoot = `/sys/fs/bpf/bpfkit-fuzz-${process.pid}`
process.on('exit', () => fs.rmSync(pinRoot, { recursive: true, force: true }))

/** What each open descriptor is (its /proc/self/fd link: a path, pipe:[…], anon_inode:bpf-map…), by fd. */
function openFds(): Map<string, string> {
  const fds = new Map<string, string>()
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`))
    } catch {
      // the directory's own descriptor, closed by now
    }
  }
  return fds
}

/** The descriptors in `now` that were not open (as that) in `before`, described. */
function added(before: Map<string, string>, now: Map<string, string>): string[] {
  return [...now].filter(([fd, what]) => before.get(fd) !== what).map(([fd, what]) => `${fd} ${what}`)
}

function say(line: string): void {
  fs.writeSync(1, `${line}\n`)
}

/** One input: 'refused-open CODE', 'refused-load CODE', 'loaded', or what went wrong. */
async function run(bytes: Uint8Array): Promise<string> {
  let obj: import('bpfkit').BpfObject
  try {
    obj = BpfObject.open(bytes, { pinRoot })
  } catch (error) {
    return outcome('open', error)
  }
  try {
    // What a tool reads of an object it was handed, before loading it.
    for (const program of obj.programs) void [program.name, program.section, program.type, program.autoload]
    for (const map of obj.maps) void [map.name, map.type, map.keySize, map.valueSize, map.maxEntries, map.isInternal]
    await obj.load()
    return 'loaded'
  } catch (error) {
    return outcome('load', error)
  } finally {
    obj.close()
  }
}

function outcome(stage: string, error: unknown): string {
  if (error instanceof BpfError) return `refused-${stage} ${error.code}`
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return `not-bpferror ${stage}: ${text.split('\n')[0]}`
}

async function main(): Promise<void> {
  const objects = corpus()
  const kept = keptFindings()
  // Once through a good object first: libbpf and Node open what they keep open on first use.
  await run(objects[0]!.bytes)
  let fds = openFds()
  for (let i = from; i < to; i++) {
    say(`> ${i}`)
    const bytes = replay ? kept[i]!.bytes : makeInput(objects, seed, i).bytes
    const result = await run(bytes)
    let now = openFds()
    if (now.size > fds.size) {
      // Node may open descriptors of its own between inputs: what is bpfkit's stays after another turn,
      // and the report says what each one is.
      await new Promise((resolve) => setImmediate(resolve))
      now = openFds()
    }
    if (now.size > fds.size) {
      say(`= ${i} leak ${now.size - fds.size} fds after ${result}: ${added(fds, now).join(', ')}`)
      return
    }
    fds = now
    say(`= ${i} ${result}`)
  }
}

void main()
