// execsnoop: prints every execve() on the machine (PID PPID UID COMM FILENAME) until Ctrl-C.
//   npm run execsnoop        (as root)
import * as path from 'node:path'
import { BpfObject, type Decoder } from 'bpfkit'

interface ExecEvent {
  pid: number
  ppid: number
  uid: number
  comm: string
  filename: string
}

// struct event in execsnoop.bpf.c: int pid; int ppid; unsigned uid; char comm[16]; char filename[256]
const text = (view: DataView, offset: number, length: number): string => {
  const bytes = new Uint8Array(view.buffer, offset, length)
  const end = bytes.indexOf(0)
  return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? length : end).toString()
}

const execEvent: Decoder<ExecEvent> = {
  decode: (view, offset) => ({
    pid: view.getInt32(offset, true),
    ppid: view.getInt32(offset + 4, true),
    uid: view.getUint32(offset + 8, true),
    comm: text(view, offset + 12, 16),
    filename: text(view, offset + 28, 256),
  }),
}

async function main(): Promise<void> {
  const obj = BpfObject.open(path.join(__dirname, 'execsnoop.bpf.o'))
  await obj.load()
  obj.attach()
  const events = obj.ringBuffer('events', { decoder: execEvent })

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
