// execsnoop: prints every execve() on the machine (PID PPID UID COMM FILENAME) until Ctrl-C.
//   npm run execsnoop        (as root)
import * as path from 'node:path'
import { BpfObject } from 'bpfkit'

/** struct event of execsnoop.bpf.c, as bpfkit decodes it from the object's BTF. */
export interface ExecEvent {
  pid: number
  ppid: number
  uid: number
  comm: string
  filename: string
}

async function main(): Promise<void> {
  const obj = BpfObject.open(path.join(__dirname, 'execsnoop.bpf.o'))
  await obj.load()
  obj.attach()
  const events = obj.ringBuffer<ExecEvent>('events')

  // Ctrl-C reaches us more than once under npm (from the terminal and relayed by npm and tsx): keep handling it.
  const stop = (): void => obj.close() // detaches the tracepoint and ends the loop below
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  console.log(`${'PID'.padEnd(8)}${'PPID'.padEnd(8)}${'UID'.padEnd(7)}${'COMM'.padEnd(17)}FILENAME`)
  for await (const e of events) {
    console.log(`${String(e.pid).padEnd(8)}${String(e.ppid).padEnd(8)}${String(e.uid).padEnd(7)}${e.comm.padEnd(17)}${e.filename}`)
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
