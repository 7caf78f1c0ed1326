// How a command stops on an error: one line on stderr (a BpfError with its hint), exit status 1.
import { BpfError } from '../errors'

/**
 * For a command whose output a reader may stop taking (`bpfkit btf dump … | head`): the process ends
 * quietly, with status 0, when stdout is closed, as a Unix filter does; other write errors still fail.
 */
export function endOnClosedOutput(command: string): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    fail(command, `cannot write the output: ${error.message}`)
  })
}

export function fail(command: string, reason: unknown): never {
  let message = reason instanceof BpfError
    ? `${reason.message.split('\n')[0]}${reason.hint ? ` (${reason.hint})` : ''}`
    : reason instanceof Error ? reason.message : String(reason)
  if (message.startsWith(`${command}: `)) message = message.slice(command.length + 2)
  process.stderr.write(`bpfkit ${command}: ${message}\n`)
  process.exit(1)
}
