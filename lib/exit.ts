// The end of the process: attachments the kernel keeps after it (netlink XDP programs, clsact filters)
// go on 'exit' and on SIGINT, SIGTERM and SIGHUP, which end a Node process without its 'exit' event.
import { isMainThread } from 'node:worker_threads'
import { addon } from './native'

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

const untied = new Set<object>()

// process.exit() skips the environment's cleanup hooks; the 'exit' event still runs. Only what the
// kernel would leave attached goes here: objects and maps stay readable in the user's own 'exit' handlers.
process.on('exit', () => addon.releaseUntied())

/**
 * With no listener of the user's, Node's default ends the process on these signals: bpfkit releases
 * what would outlive it, then lets the signal end the process as it would have (same signal, same
 * status). A user's own listener stays in charge: nothing is released then until the process exits.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return
  addon.releaseUntied()
  stopListening()
  process.kill(process.pid, signal)
}

function stopListening(): void {
  for (const signal of SIGNALS) process.off(signal, onSignal)
}

/** @internal A link the kernel does not tie to the process was made: listen for the signals. */
export function untiedAttached(link: object): void {
  untied.add(link)
  // Signals reach the main thread only; a worker's attachments go when the worker ends.
  if (untied.size === 1 && isMainThread) for (const signal of SIGNALS) process.on(signal, onSignal)
}

/** @internal It was released: stop listening once none is left, so Node's defaults are untouched. */
export function untiedReleased(link: object): void {
  if (untied.delete(link) && untied.size === 0) stopListening()
}
