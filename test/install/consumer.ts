// A TypeScript consumer of the installed package (test/install/check.sh type-checks it, strict, with no
// @types/node of its own): the public API's types must resolve from bpfkit alone.
import { BpfError, BpfObject, type BpfMap } from 'bpfkit'

export async function count(path: string): Promise<number> {
  await using obj = BpfObject.open(path, { logLevel: 'warn' })
  await obj.load()
  const links = obj.attach()
  const counts: BpfMap = obj.map('counts')
  const events = obj.ringBuffer('events')
  events.on('data', (event: unknown) => void event)
  for (const link of links) link.close()
  return counts.maxEntries
}

count('prog.bpf.o').catch((error: unknown) => {
  if (error instanceof BpfError) console.error(error.code, error.op, error.hint)
})
