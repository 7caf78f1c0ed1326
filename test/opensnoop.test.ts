// opensnoop end to end: the opens of a child process arrive with its pid, comm, flags, path and fd or
// errno, and the pid, name and failed filters (applied in the kernel) keep everything else out.
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root, waitFor } from './helpers'

const HEADER = 'PID     COMM               FD ERR PATH'

/** Opens `file` for appending, `missing` for reading, then `file` again, when told to on stdin; prints the first fd and the errno. */
const OPENER = `
process.title = process.argv[1] // the command name (comm) the filters see
const fs = require('node:fs')
process.stdin.once('data', () => {
  const fd = fs.openSync(process.argv[2], 'a')
  let err = 0
  try {
    fs.openSync(process.argv[3], 'r')
  } catch (error) {
    err = -error.errno
  }
  fs.openSync(process.argv[2], 'r')
  console.log(JSON.stringify({ fd, err }))
  process.exit(0)
})
console.log('ready')
`

interface Opener {
  pid: number
  comm: string
  /** Makes the two opens; resolves with what the child saw. */
  open: () => Promise<{ fd: number; err: number }>
}

async function startOpener(title: string, file: string, missing: string): Promise<Opener> {
  const child = spawn(process.execPath, ['-e', OPENER, title, file, missing], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  await waitFor(() => out.includes('ready\n'), 10_000, 'the opener to start')
  const pid = child.pid as number
  const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  return {
    pid,
    comm,
    open: async () => {
      child.stdin.write('go\n')
      await new Promise((resolve) => child.on('exit', resolve))
      return JSON.parse(out.split('\n')[1])
    },
  }
}

/** `npm run opensnoop -- …` in its own process group, as a terminal would run it. */
function runTool(args: string[]): { stdout: () => string; stderr: () => string; exited: Promise<number | null>; interrupt: () => void } {
  const child = spawn('npm', ['run', '--silent', 'opensnoop', '--', ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0) console.error(stderr)
      resolve(code)
    }),
  )
  return { stdout: () => stdout, stderr: () => stderr, exited, interrupt: () => process.kill(-(child.pid as number), 'SIGINT') }
}

/** The table's rows, as [PID, COMM, FD, ERR, PATH]. */
function rows(stdout: string): string[][] {
  const lines = stdout.split('\n').filter(Boolean)
  expect(lines[0]).toBe(HEADER)
  return lines.slice(1).map((line) => line.split(/\s+/))
}

function programsLoaded(): boolean {
  return execFileSync('bpftool', ['prog', 'show'], { encoding: 'utf8' }).includes(' name trace_exit_open')
}

describe('opensnoop', () => {
  let dir: string
  let file: string
  let missing: string

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-opensnoop-'))
    file = path.join(dir, `opened-${process.pid}.txt`)
    missing = path.join(dir, `missing-${process.pid}.txt`)
    fs.writeFileSync(file, 'bpfkit\n')
  })

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('--pid N prints the opens of process N only: the fd, or -1 and the errno, and the path', async () => {
    const opener = await startOpener(`bkos${process.pid}a`, file, missing)
    const tool = runTool(['--pid', String(opener.pid)])
    await waitFor(() => tool.stdout().includes(HEADER), 20_000, 'the header')
    fs.closeSync(fs.openSync(file, 'r')) // by this process: filtered out
    const { fd, err } = await opener.open()
    expect(err).toBe(os.constants.errno.ENOENT)
    await waitFor(() => tool.stdout().includes(missing), 5000, 'the failed open')
    tool.interrupt()
    expect(await tool.exited).toBe(0)

    const table = rows(tool.stdout())
    expect(table).toContainEqual([String(opener.pid), opener.comm, String(fd), '0', file])
    expect(table).toContainEqual([String(opener.pid), opener.comm, '-1', String(os.constants.errno.ENOENT), missing])
    expect(table.every(([pid]) => pid === String(opener.pid))).toBe(true)
    await waitFor(() => !programsLoaded(), 5000, 'the programs to leave the kernel')
  })

  it('--failed --name COMM prints only the failed opens of processes named COMM', async () => {
    const opener = await startOpener(`bkos${process.pid}b`, file, missing)
    const tool = runTool(['--failed', '--name', opener.comm])
    await waitFor(() => tool.stdout().includes(HEADER), 20_000, 'the header')
    expect(() => fs.openSync(missing, 'r')).toThrow() // by this process, with another name: filtered out
    await opener.open()
    // The opens arrive in order: the successful one would have come first.
    await waitFor(() => tool.stdout().includes(missing), 5000, 'the failed open')
    tool.interrupt()
    expect(await tool.exited).toBe(0)

    const table = rows(tool.stdout())
    expect(table).toContainEqual([String(opener.pid), opener.comm, '-1', String(os.constants.errno.ENOENT), missing])
    expect(tool.stdout()).not.toContain(file)
    for (const [, comm, fd, err] of table) {
      expect(comm).toBe(opener.comm)
      expect(fd).toBe('-1')
      expect(Number(err)).toBeGreaterThan(0)
    }
  })

  it('--json --count N prints the first N opens (of three), with their flags, and exits by itself', async () => {
    const opener = await startOpener(`bkos${process.pid}c`, file, missing)
    const tool = runTool(['--json', '--pid', String(opener.pid), '--count', '2'])
    await waitFor(() => tool.stderr().includes('Tracing openat()'), 20_000, 'the tool to attach')
    const { fd } = await opener.open()
    expect(await tool.exited).toBe(0)

    const records = tool.stdout().trim().split('\n').map((line) => JSON.parse(line))
    const { O_WRONLY, O_CREAT, O_APPEND, O_ACCMODE } = { ...fs.constants, O_ACCMODE: 3 }
    expect(records).toEqual([
      { pid: opener.pid, uid: process.getuid?.(), comm: opener.comm, fd, err: 0, flags: expect.any(Number), path: file },
      { pid: opener.pid, uid: process.getuid?.(), comm: opener.comm, fd: -1, err: os.constants.errno.ENOENT, flags: expect.any(Number), path: missing },
    ])
    expect(records[0].flags & (O_ACCMODE | O_CREAT | O_APPEND)).toBe(O_WRONLY | O_CREAT | O_APPEND) // 'a'
    expect(records[1].flags & (O_ACCMODE | O_CREAT | O_APPEND)).toBe(0) // 'r'
  })

  it('--duration S stops after S seconds', async () => {
    const tool = runTool(['--pid', '2147483647', '--duration', '1'])
    await waitFor(() => tool.stdout().includes(HEADER), 20_000, 'the header')
    const started = Date.now()
    expect(await tool.exited).toBe(0)
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThan(800)
    expect(elapsed).toBeLessThan(5000)
    expect(tool.stdout()).toBe(`${HEADER}\n`)
  })
})
