// The bpfkit side of the startup benchmark: execsnoop opened, loaded and attached COUNT times in this
// process, then closed, printing one JSON line with the milliseconds of each (the first one included).
//   consumer.ts object|skeleton COUNT
import * as path from 'node:path'
import { performance } from 'node:perf_hooks'
import { BpfObject } from 'bpfkit'
import { open } from '../../examples/execsnoop.skel'

const object = path.join(__dirname, '../../examples/execsnoop.bpf.o')

/** One open + load + attach: through BpfObject, or through the generated skeleton (the object embedded). */
const PATHS: Record<string, () => Promise<{ close(): void }>> = {
  object: async () => {
    const obj = BpfObject.open(object)
    await obj.load()
    obj.attach()
    return obj
  },
  skeleton: async () => {
    const skel = await open().load()
    skel.attach()
    return skel
  },
}

async function main(): Promise<void> {
  const [mode, count] = process.argv.slice(2)
  const start = PATHS[mode ?? '']
  if (start === undefined || !/^[1-9][0-9]*$/.test(count ?? '')) throw new Error('usage: consumer.ts object|skeleton COUNT')
  const ms: number[] = []
  for (let i = 0; i < Number(count); i++) {
    const t = performance.now()
    const started = await start()
    ms.push(performance.now() - t)
    started.close()
  }
  console.log(JSON.stringify({ ms }))
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
