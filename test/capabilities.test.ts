// dropCapabilities(): every thread it can reach keeps only what it was told (in a child process: it is
// irreversible), and what was kept still works.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { capabilities, dropCapabilities } from 'bpfkit'
import { fixture, root, thrown } from './helpers'

describe('capabilities', () => {
  it('reads the sets of this process', () => {
    expect(capabilities().effective).toContain('CAP_BPF')
    expect(capabilities(process.pid).effective).toEqual(capabilities().effective)
  })

  it('drops all but CAP_BPF and CAP_PERFMON in every thread, and maps stay readable', () => {
    const script = `
      const fs = require('node:fs')
      const { BpfObject, dropCapabilities, capabilities } = require(${JSON.stringify(root)})
      fs.readFile('/etc/hostname', async () => {      // starts libuv's thread pool
        const obj = BpfObject.open(${JSON.stringify(fixture('metrics.bpf.o'))})
        await obj.load()
        const kept = dropCapabilities(['CAP_BPF', 'CAP_PERFMON'])
        obj.map('per_cpu').set(1, 2)
        const threads = fs.readdirSync('/proc/self/task').filter((t) => !kept.unreachable.includes(Number(t)))
          .map((t) => capabilities('self', Number(t)))
        let denied = ''
        try { fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '0') } catch (e) { denied = e.code }
        console.log(JSON.stringify({ kept, threads, value: String(obj.map('per_cpu').get(1)[0]), denied }))
      })`
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    const result = JSON.parse(run.stdout)
    expect(result.kept).toMatchObject({ effective: ['CAP_PERFMON', 'CAP_BPF'], permitted: ['CAP_PERFMON', 'CAP_BPF'], bounding: ['CAP_PERFMON', 'CAP_BPF'], ambient: [] })
    // Node's SIGUSR1 watcher blocks every signal: the one thread it cannot reach.
    expect(result.kept.unreachable.length).toBeLessThanOrEqual(1)
    expect(result.threads.length).toBeGreaterThanOrEqual(5)
    for (const thread of result.threads) expect(thread.effective).toEqual(['CAP_PERFMON', 'CAP_BPF'])
    expect(result.value).toBe('2')
    // Writing a root-only sysctl needs CAP_SYS_ADMIN, now gone.
    expect(result.denied).toBe('EPERM')
  })

  it('refuses unknown capabilities before changing anything', () => {
    expect(thrown(() => dropCapabilities(['CAP_NOPE' as never])).message).toMatch(/unknown capability CAP_NOPE/)
    expect(thrown(() => dropCapabilities('CAP_BPF' as never)).code).toBe('EINVAL')
    expect(capabilities().effective).toContain('CAP_SYS_ADMIN')
  })
})
