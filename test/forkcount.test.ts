// forkcount end to end: the example counts exactly the forks of a parent picked by its command name.
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root, waitFor } from './helpers'

describe('forkcount', () => {
  let dir: string
  let forker: string

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-fork-'))
    forker = path.join(dir, 'bpfkit-forker')
    fs.copyFileSync('/bin/sh', forker)
    fs.chmodSync(forker, 0o755)
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('npm run forkcount -- --comm NAME prints the forks of NAME per parent pid, sorted, with the total', async () => {
    const child = spawn('npm', ['run', '--silent', 'forkcount', '--', '--comm', 'bpfkit-forker', '--interval', '300'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()))
    try {
      await waitFor(() => out.includes("Counting forks by 'bpfkit-forker'"), 20_000, 'forkcount to start')
      // Two parents named bpfkit-forker: one forks 7 times, the other 3 times; this test's forks do not count.
      const script = (n: number): string => `for i in ${'x '.repeat(n)}; do /bin/true & done; wait; echo $$`
      const seven = Number(execFileSync(forker, ['-c', script(7)]).toString().trim())
      const three = Number(execFileSync(forker, ['-c', script(3)]).toString().trim())
      const expected = [
        `${String(seven).padStart(8)}  ${'bpfkit-forker'.padEnd(16)}  7`,
        `${String(three).padStart(8)}  ${'bpfkit-forker'.padEnd(16)}  3`,
      ].join('\n')
      await waitFor(() => out.includes(expected), 10_000, `the table:\n${expected}`)
      expect(out).toMatch(/ 10 forks in total\n/)
      // The filter is applied in the kernel: no other parent ever appears.
      const rows = out.split('\n').filter((line) => /^ +\d+ {2}/.test(line))
      expect(rows.length).toBeGreaterThan(0)
      expect(rows.every((row) => row.includes('  bpfkit-forker  '))).toBe(true)
    } finally {
      child.kill('SIGINT')
    }
    const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)))
    expect(code).toBe(0)
  })
})
