// The corrupt-object fuzzer with a fixed seed: 2,000 mutated objects and every kept finding through
// open → load → close in child processes (npm run fuzz runs 20,000 with a new seed each time).
import { describe, expect, it } from 'vitest'
import { fuzz, summary } from './fuzz/run'
import { SCALE } from './helpers'

describe('fuzzing', () => {
  it('2,000 corrupt objects: no crash, no hang, no leaked fd, nothing but BpfErrors', async () => {
    const report = await fuzz({ seed: 1, inputs: 2000, jobs: 2, limitMs: 10_000 * SCALE })
    // Each finding is named with its input and whether libbpf alone does the same.
    expect(summary(report)).not.toMatch(/^ {2}(crash|hang|leak|not-bpferror) /m)
    expect(report).toMatchObject({ crashes: 0, hangs: 0, leaks: 0, notBpfErrors: 0 })
    expect(report.done).toBe(report.inputs)
    // The mutations reach every stage: refused at open, refused at load, and loaded.
    expect(report.outcomes.loaded).toBeGreaterThan(100)
    expect(Object.keys(report.outcomes).some((key) => key.startsWith('refused-load'))).toBe(true)
  }, 600_000 * SCALE)
})
