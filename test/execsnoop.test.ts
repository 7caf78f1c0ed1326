// execsnoop end to end: execs the test causes arrive with the right pid, ppid, uid, comm and filename.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfObject } from 'bpfkit'
import type { Event as ExecEvent } from '../examples/execsnoop.skel'
import { bpfFds, example, programExists, root, waitFor } from './helpers'

describe('execsnoop', () => {
  let dir: string
  let binary: string

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-exec-'))
    binary = path.join(dir, `bpfkit-true-${process.pid}`)
    fs.copyFileSync('/bin/true', binary)
    fs.chmodSync(binary, 0o755)
  })

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('reports every exec with pid, ppid, uid, comm and filename, and leaves nothing behind', async () => {
    const before = bpfFds()
    const obj = BpfObject.open(example('execsnoop.bpf.o'))
    expect(obj.programs.map((p) => p.section)).toEqual(['tracepoint/syscalls/sys_enter_execve'])
    await obj.load()
    const programId = obj.programs[0].id
    const links = obj.attach()
    expect(links).toHaveLength(1)

    const seen: ExecEvent[] = []
    const reader = obj.ringBuffer<ExecEvent>('events')
    reader.on('data', (event) => {
      if (event.filename === binary) seen.push(event)
    })

    const pids: number[] = []
    for (let i = 0; i < 5; i++) {
      const child = spawn(binary, [], { stdio: 'ignore' })
      pids.push(child.pid as number)
      await new Promise((resolve) => child.on('exit', resolve))
    }
    await waitFor(() => seen.length >= 5, 5000, 'five exec events')

    const comm = fs.readFileSync('/proc/self/comm', 'utf8').trim()
    expect(seen.map((e) => e.pid)).toEqual(pids)
    for (const event of seen) {
      expect(event).toEqual({ pid: event.pid, ppid: process.pid, uid: process.getuid?.(), comm, filename: binary })
    }
    expect(reader.stats().events).toBeGreaterThanOrEqual(5)

    obj.close()
    expect(obj.state).toBe('closed')
    expect(links.every((l) => l.closed)).toBe(true)
    expect(reader.closed).toBe(true)
    expect(bpfFds()).toEqual(before)
    await waitFor(() => !programExists(programId), 5000, `program ${programId} to leave the kernel`)
  })

  it('npm run execsnoop prints the exec and exits 0 on Ctrl-C', async () => {
    // detached: its own process group, which gets the SIGINT as a terminal's Ctrl-C would send it.
    const tool = spawn('npm', ['run', '-s', 'execsnoop'], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    tool.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    tool.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => tool.on('exit', (code) => resolve(code)))
    await waitFor(() => output.includes('FILENAME'), 20_000, 'the header')
    const child = spawn(binary, [], { stdio: 'ignore' })
    await new Promise((resolve) => child.on('exit', resolve))
    await waitFor(() => output.includes(binary), 5000, 'the exec line')
    process.kill(-(tool.pid as number), 'SIGINT')
    expect(await exited).toBe(0)
    const line = output.split('\n').find((l) => l.endsWith(binary)) as string
    expect(line.split(/\s+/).slice(0, 3)).toEqual([String(child.pid), String(process.pid), '0'])
  })
})

