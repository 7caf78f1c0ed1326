// tail-dispatch: classifies syscalls with tail calls. One program on sys_enter jumps (bpf_tail_call)
// through a prog_array indexed by syscall number to one of four handlers, which count calls per class.
//   npm run tail-dispatch [-- --pid PID] [--interval 1000] [--count N] [--json]     (as root)
import { parseArgs } from 'node:util'
import { SyscallClass, open } from './tail-dispatch.skel'

/** The syscalls each handler takes, by name and number (x86-64 and arm64: numbers differ). */
const SYSCALLS: Record<'x64' | 'arm64', Record<keyof typeof SyscallClass, Record<string, number>>> = {
  x64: {
    CLASS_FILE: { read: 0, write: 1, open: 2, close: 3, stat: 4, fstat: 5, lseek: 8, ioctl: 16, pread64: 17, pwrite64: 18, access: 21,
      fcntl: 72, readlink: 89, getdents64: 217, openat: 257, newfstatat: 262, faccessat: 269, statx: 332 },
    CLASS_NETWORK: { socket: 41, connect: 42, accept: 43, sendto: 44, recvfrom: 45, sendmsg: 46, recvmsg: 47, shutdown: 48, bind: 49,
      listen: 50, socketpair: 53, setsockopt: 54, getsockopt: 55, accept4: 288 },
    CLASS_PROCESS: { getpid: 39, clone: 56, fork: 57, vfork: 58, execve: 59, exit: 60, wait4: 61, kill: 62, getppid: 110,
      exit_group: 231, tgkill: 234, execveat: 322, clone3: 435 },
    CLASS_MEMORY: { mmap: 9, mprotect: 10, munmap: 11, brk: 12, mremap: 25, madvise: 28 },
  },
  arm64: {
    CLASS_FILE: { getdents64: 61, lseek: 62, read: 63, write: 64, pread64: 67, pwrite64: 68, readlinkat: 78, newfstatat: 79, fstat: 80,
      fcntl: 25, ioctl: 29, faccessat: 48, openat: 56, close: 57, statx: 291 },
    CLASS_NETWORK: { socket: 198, socketpair: 199, bind: 200, listen: 201, accept: 202, connect: 203, sendto: 206, recvfrom: 207,
      setsockopt: 208, getsockopt: 209, shutdown: 210, sendmsg: 211, recvmsg: 212, accept4: 242 },
    CLASS_PROCESS: { exit: 93, exit_group: 94, kill: 129, tgkill: 131, getpid: 172, getppid: 173, clone: 220, execve: 221, wait4: 260,
      execveat: 281, clone3: 435 },
    CLASS_MEMORY: { brk: 214, munmap: 215, mremap: 216, mmap: 222, mprotect: 226, madvise: 233 },
  },
}

/** The handler program of each class, as the object names them. */
const HANDLERS = { CLASS_FILE: 'handle_file', CLASS_NETWORK: 'handle_network', CLASS_PROCESS: 'handle_process', CLASS_MEMORY: 'handle_memory' } as const

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pid: { type: 'string' },
      interval: { type: 'string', default: '1000' },
      count: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log('usage: tail-dispatch [--pid PID] [--interval MS] [--count N] [--json]\n  --pid PID  only the syscalls of process PID')
    return
  }
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64'
  const table = SYSCALLS[arch]
  const names = new Map<number, string>()
  for (const syscalls of Object.values(table)) for (const [name, nr] of Object.entries(syscalls)) names.set(nr, name)
  const interval = Number(values.interval)
  const rounds = values.count === undefined ? Infinity : Number(values.count)

  const skel = open()
  if (values.pid !== undefined) skel.rodata.target_pid = Number(values.pid)
  const loaded = await skel.load()
  // The dispatch table: each syscall's slot holds its class's handler (a tail call target).
  const handlers = loaded.maps.handlers
  for (const [klass, syscalls] of Object.entries(table) as Array<[keyof typeof HANDLERS, Record<string, number>]>) {
    for (const nr of Object.values(syscalls)) handlers.set(nr, loaded.progs[HANDLERS[klass]])
  }
  loaded.progs.dispatch.attach()
  const obj = loaded.object

  let timer: NodeJS.Timeout | undefined
  const stop = (): void => {
    clearInterval(timer)
    obj.close()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  const classOf = (value: number): string => Object.entries(SyscallClass).find(([, v]) => v === value)![0].replace('CLASS_', '').toLowerCase()
  console.log(`Dispatching ${handlers.count()} syscalls to 4 handlers through tail calls${values.pid === undefined ? '' : ` (pid ${values.pid})`}… Ctrl-C to stop.`)
  let round = 0
  timer = setInterval(() => {
    const rows = [...loaded.maps.calls.entries()]
      .map(([key, calls]) => ({ class: classOf(key.class), syscall: names.get(key.syscall) ?? String(key.syscall), calls: Number(calls) }))
      .sort((a, b) => b.calls - a.calls)
    const undispatched = Number(loaded.bss.undispatched)
    if (values.json) {
      console.log(JSON.stringify({ time: new Date().toISOString(), calls: rows, undispatched }))
    } else {
      console.log(`\n${new Date().toLocaleTimeString()}  ${undispatched} calls with no handler`)
      console.log(`${'CLASS'.padEnd(8)}  ${'SYSCALL'.padEnd(12)}  CALLS`)
      for (const row of rows.slice(0, 15)) console.log(`${row.class.padEnd(8)}  ${row.syscall.padEnd(12)}  ${row.calls}`)
    }
    if (++round >= rounds) stop()
  }, interval)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
