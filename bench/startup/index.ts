// Startup benchmark: open() + load() + attach() of examples/execsnoop.bpf.o with bpfkit against the C
// skeleton bpftool generates from the same object, measured in the same run.
//   npm run bench:startup [-- --json] [-- --rounds N]        (as root)
// Each round starts a fresh process per side, which opens the object REPEAT times: the first open of a
// process pays for what libbpf does once per process (kernel feature probes); every load parses the
// kernel's BTF.
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { buildBaseline, median, roundsArgs } from '../baseline'

const root = path.resolve(__dirname, '../..')
const REPEAT = 10

/** Runs a side pinned to CPU 0 and returns the milliseconds of each of its opens. */
function side(command: string, args: string[]): number[] {
  const output = execFileSync('taskset', ['-c', '0', command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  return (JSON.parse(output) as { ms: number[] }).ms
}

function main(): void {
  const { json, rounds } = roundsArgs(process.argv.slice(2), 'bench:startup', 7)
  const skeletonHeader = path.join(root, 'cmake-build/bench/execsnoop.skel.h')
  execFileSync('mkdir', ['-p', path.dirname(skeletonHeader)])
  const header = execFileSync('bpftool', ['gen', 'skeleton', path.join(root, 'examples/execsnoop.bpf.o'), 'name', 'execsnoop_bpf'],
    { encoding: 'utf8', maxBuffer: 64 << 20 })
  require('node:fs').writeFileSync(skeletonHeader, header)
  const baseline = buildBaseline('startup', ['-I', path.dirname(skeletonHeader)])
  const consumer = path.join(__dirname, 'consumer.ts')
  const sides = {
    c: [] as number[][],
    object: [] as number[][],
    skeleton: [] as number[][],
  }
  // Round 0 warms the page cache and is not counted; the sides alternate so that each sees the same machine.
  for (let round = 0; round <= rounds; round++) {
    const c = side(baseline, [String(REPEAT)])
    const object = side(process.execPath, ['--import', 'tsx', consumer, 'object', String(REPEAT)])
    const skeleton = side(process.execPath, ['--import', 'tsx', consumer, 'skeleton', String(REPEAT)])
    if (round === 0) continue
    sides.c.push(c)
    sides.object.push(object)
    sides.skeleton.push(skeleton)
  }
  const first = (runs: number[][]): number => median(runs.map((ms) => ms[0] as number))
  const later = (runs: number[][]): number => median(runs.flatMap((ms) => ms.slice(1)))
  const rows = [
    { label: 'first in a process', c: first(sides.c), object: first(sides.object), skeleton: first(sides.skeleton) },
    { label: 'later ones', c: later(sides.c), object: later(sides.object), skeleton: later(sides.skeleton) },
  ].map((r) => ({ ...r, objectRatio: r.object / r.c, skeletonRatio: r.skeleton / r.c, target: 1.2,
    met: r.object / r.c <= 1.2 && r.skeleton / r.c <= 1.2 }))
  if (json) {
    console.log(JSON.stringify({ config: { rounds, repeat: REPEAT }, rows, runs: sides }, null, 2))
    return
  }
  console.log(`startup: execsnoop.bpf.o open + load + attach (then closed); ${rounds} fresh processes per side after 1 warm-up, ` +
    `${REPEAT} opens each; medians in ms; pinned to CPU 0`)
  console.log(`${''.padEnd(20)}${'C skeleton'.padStart(12)}${'BpfObject'.padStart(11)}${'ratio'.padStart(8)}` +
    `${'bpfkit skel'.padStart(13)}${'ratio'.padStart(8)}  target`)
  for (const r of rows) {
    console.log(`${r.label.padEnd(20)}${r.c.toFixed(1).padStart(12)}${r.object.toFixed(1).padStart(11)}` +
      `${`${r.objectRatio.toFixed(2)}×`.padStart(8)}${r.skeleton.toFixed(1).padStart(13)}${`${r.skeletonRatio.toFixed(2)}×`.padStart(8)}` +
      `  ≤ ${r.target.toFixed(1)}× ${r.met ? 'met' : 'MISSED'}`)
  }
}

main()
