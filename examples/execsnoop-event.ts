// The event execsnoop.bpf.c writes: struct event { int pid; int ppid; unsigned uid; char comm[16]; char filename[256]; }
import type { Decoder } from 'bpfkit'

export interface ExecEvent {
  pid: number
  ppid: number
  uid: number
  comm: string
  filename: string
}

function cString(view: DataView, offset: number, length: number): string {
  const bytes = Buffer.from(view.buffer, view.byteOffset + offset, length)
  const end = bytes.indexOf(0)
  return bytes.toString('utf8', 0, end < 0 ? length : end)
}

export const execEvent: Decoder<ExecEvent> = {
  decode: (view, offset) => ({
    pid: view.getInt32(offset, true),
    ppid: view.getInt32(offset + 4, true),
    uid: view.getUint32(offset + 8, true),
    comm: cString(view, offset + 12, 16),
    filename: cString(view, offset + 28, 256),
  }),
}
