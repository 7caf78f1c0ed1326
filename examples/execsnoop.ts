// execsnoop: prints every execve() on the machine (PID PPID UID COMM FILENAME) until Ctrl-C.
//   npm run execsnoop        (as root)
import { open } from './execsnoop.skel'

async function main(): Promise<void> {
  // The generated skeleton (npm run build:examples): typed maps, programs and events.
  const skel = await open().load()
  skel.attach()
  const events = skel.maps.events.reader() // RingBuffer<Event>: struct event, decoded
  const obj = skel.object

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
