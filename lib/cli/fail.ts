// How a command stops on an error: one line on stderr (a BpfError with its hint), exit status 1.
import { BpfError } from '../errors'

export function fail(command: string, reason: unknown): never {
  let message = reason instanceof BpfError
    ? `${reason.message.split('\n')[0]}${reason.hint ? ` (${reason.hint})` : ''}`
    : reason instanceof Error ? reason.message : String(reason)
  if (message.startsWith(`${command}: `)) message = message.slice(command.length + 2)
  process.stderr.write(`bpfkit ${command}: ${message}\n`)
  process.exit(1)
}
