// tail-dispatch end to end: syscalls of this process reach the handler of their class through
// bpf_tail_call, and every handler runs.
import { spawn } from 'node:child_process'
import * as dgram from 'node:dgram'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { root, waitFor } from './helpers'

interface Round {
  calls: Array<{ class: string; syscall: string; calls: number }>
  undispatched: number
}

describe('tail-dispatch', () => {
  it('npm run tail-dispatch -- --pid PID counts the syscalls PID makes under the class whose handler it tail-called', async () => {
    const child = spawn('npm', ['run', '--silent', 'tail-dispatch', '--', '--pid', String(process.pid), '--interval', '200', '--json'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()))
    try {
      await waitFor(() => out.includes('Dispatching'), 30_000, 'tail-dispatch to start')
      expect(out).toMatch(/^Dispatching \d+ syscalls to 4 handlers through tail calls \(pid \d+\)/)
      // One class each: getppid (process), openat/close (file), socket (network), and a big buffer,
      // which malloc maps (memory).
      for (let i = 0; i < 5; i++) void process.ppid
      const file = path.join(os.tmpdir(), `bpfkit-tail-${process.pid}`)
      fs.closeSync(fs.openSync(file, 'w'))
      fs.rmSync(file)
      const socket = dgram.createSocket('udp4')
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
      socket.close()
      const big = Buffer.allocUnsafeSlow(16 << 20).fill(1)
      const last = (): Round | undefined => {
        const lines = out.split('\n').filter((line) => line.startsWith('{'))
        return lines.length === 0 ? undefined : (JSON.parse(lines.at(-1)!) as Round)
      }
      const count = (round: Round | undefined, name: string): number => round?.calls.find((c) => c.syscall === name)?.calls ?? 0
      await waitFor(() => count(last(), 'getppid') >= 5 && count(last(), 'socket') >= 1, 10_000, 'the calls to be counted')
      const round = last()!
      const classOf = (name: string): string | undefined => round.calls.find((c) => c.syscall === name)?.class
      expect([classOf('getppid'), classOf('openat'), classOf('close'), classOf('socket'), classOf('bind')])
        .toEqual(['process', 'file', 'file', 'network', 'network'])
      // Every handler ran.
      expect(new Set(round.calls.map((c) => c.class))).toEqual(new Set(['file', 'network', 'process', 'memory']))
      // Syscalls with no handler in the prog_array fall through the tail call.
      expect(round.undispatched).toBeGreaterThan(0)
      expect(big[0]).toBe(1)
    } finally {
      child.kill('SIGINT')
    }
    expect(await new Promise((resolve) => child.on('exit', (code) => resolve(code)))).toBe(0)
  })
})
