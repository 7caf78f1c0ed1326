// uprobe-trace end to end: the example builds its target, traces checksum() in it with a uprobe and
// a uretprobe, and prints each call's arguments and return value, in order, then cleans up.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SCALE, root } from './helpers'

// What the target calls, in order (uprobe-trace/target.c), and what checksum() returns for each.
const CALLS: Array<[string, number, number]> = [
  ['hello', 5, 99162322],
  ['bpfkit', 6, -1382731266],
  ['uprobe', 6, -838416293],
  ['', 0, 0],
  ['Compile Once - Run Everywhere', 29, 1562699078],
]

function expected(n: number): Array<[string, number, number]> {
  return Array.from({ length: n }, (_, i) => CALLS[i % CALLS.length]!)
}

function uprobeTrace(...args: string[]): { stdout: string; stderr: string; pid: number; binary: string } {
  const run = spawnSync('npm', ['run', '-s', 'uprobe-trace', '--', '--interval', '20', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 * SCALE })
  expect(run.status, run.stderr).toBe(0)
  const header = /^Tracing checksum\(\) of (\/\S+\/uprobe-trace-target) \(pid (\d+)\)… Ctrl-C to stop\.$/m.exec(`${run.stdout}${run.stderr}`)
  expect(header, `${run.stdout}${run.stderr}`).not.toBeNull()
  const binary = header![1]!
  const pid = Number(header![2])
  // Its build directory is gone and its target has exited.
  expect(fs.existsSync(binary)).toBe(false)
  expect(fs.existsSync(`/proc/${pid}`)).toBe(false)
  return { stdout: run.stdout, stderr: run.stderr, pid, binary }
}

describe('uprobe-trace', () => {
  it('npm run uprobe-trace -- --count 7 prints the first 7 calls: pid, tid, latency, arguments and return value', () => {
    const { stdout, pid } = uprobeTrace('--count', '7')
    const lines = stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^Tracing checksum\(\) of /)
    expect(lines[1]).toBe('PID     TID     LATENCY(ns)  CALL')
    const rows = lines.slice(2)
    expect(rows).toHaveLength(7)
    const calls = rows.map((row) => {
      const m = /^(\d+) +(\d+) +(\d+) {2}(checksum\(.*\) = -?\d+)$/.exec(row)
      expect(m, row).not.toBeNull()
      expect(Number(m![1])).toBe(pid)
      expect(Number(m![2])).toBe(pid) // the target is single-threaded
      const latency = Number(m![3])
      expect(latency).toBeGreaterThan(0)
      expect(latency).toBeLessThan(1e9)
      return m![4]
    })
    expect(calls).toEqual(expected(7).map(([s, len, ret]) => `checksum(${JSON.stringify(s)}, ${len}) = ${ret}`))
  })

  it('--json prints one object per call and nothing else on stdout', () => {
    const { stdout, stderr, pid } = uprobeTrace('--count', '6', '--json')
    expect(stderr).toMatch(/^Tracing checksum\(\) of /m)
    const events = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(events.map(({ latencyNs, ...rest }) => {
      expect(latencyNs).toBeGreaterThan(0)
      return rest
    })).toEqual(expected(6).map(([s, len, ret]) => ({ pid, tid: pid, s, len, ret })))
  })
})
