// field-exists end to end: CO-RE existence checks pick the layout this kernel has, and the program
// reads the right field through it.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { root } from './helpers'

describe('field-exists', () => {
  it('npm run field-exists reports which fields and types exist and reads tgid through the current layout', () => {
    const run = spawnSync('npm', ['run', '-s', 'field-exists'], { cwd: root, encoding: 'utf8' })
    expect(run.status).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines.slice(0, 4)).toEqual([
      'task_struct::pid exists:                   yes',
      'task_struct::bpfkit_no_such_field exists:  no',
      'struct task_struct exists:                 yes',
      'struct bpfkit_no_such_type exists:         no',
    ])
    const match = /^branch taken: current layout; tgid read through it: (\d+) \(this process: (\d+)\)$/.exec(lines[4] ?? '')
    expect(match).not.toBeNull()
    expect(match?.[1]).toBe(match?.[2])
  })
})
