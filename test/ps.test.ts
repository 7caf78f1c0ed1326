// `bpfkit ps`: what is loaded in the kernel, system-wide, and who holds it — as bpftool lists it.
import { execFile, execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { BpfObject, BpfProgram, Link } from 'bpfkit'
import { fixture, root } from './helpers'

const run = promisify(execFile)
const ps = async (...args: string[]): Promise<string> =>
  (await run(process.execPath, [path.join(root, 'dist/cli/index.js'), 'ps', ...args], { cwd: root, maxBuffer: 64 << 20 })).stdout

describe('bpfkit ps', () => {
  it('--json lists this process\'s programs, maps and links with their ids as bpftool has them, and this pid as holder', async () => {
    await using obj = BpfObject.open(fixture('sequence.bpf.o'))
    await obj.load()
    using link = obj.program('emit').attach()
    const listing = JSON.parse(await ps('--json', '--pid', String(process.pid)))
    const program = listing.programs.find((p: { id: number }) => p.id === obj.program('emit').id)
    expect(program).toMatchObject({ type: 'tracepoint', name: 'emit', pids: [{ pid: process.pid, comm: expect.any(String) }] })
    expect(program.mapIds).toEqual(expect.arrayContaining([obj.map('settings').id]))
    expect(new Date(program.loadedAt).getTime()).toBeGreaterThan(Date.now() - 600_000)
    expect(listing.maps.map((m: { id: number }) => m.id)).toEqual(expect.arrayContaining(obj.maps.map((m) => m.id)))
    expect(listing.links).toContainEqual(expect.objectContaining({ id: link.info()!.id, type: 'perf_event', programId: program.id }))
    // What bpftool lists of ours, bpfkit lists too.
    const bpftool = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(program.id), '-j']).toString())
    expect(program).toMatchObject({ id: bpftool.id, tag: bpftool.tag, name: bpftool.name })
    expect(BpfProgram.list().some((p) => p.id === program.id)).toBe(true)
    expect(Link.list().some((l) => l.id === link.info()!.id)).toBe(true)
  })

  it('prints tidy tables', async () => {
    await using obj = BpfObject.open(fixture('sequence.bpf.o'))
    await obj.load()
    const text = await ps('--pid', String(process.pid))
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^programs \(\d+\)$/)
    expect(lines[1]).toMatch(/^ID +TYPE +NAME +TAG +LOADED +INSNS +MAPS +PIDS$/)
    expect(text).toMatch(new RegExp(`\\n${obj.program('emit').id} +tracepoint +emit +[0-9a-f]{16} `))
    expect(text).toMatch(/\nmaps \(\d+\)\nID +TYPE +NAME +KEY +VALUE +MAX +FLAGS +PIDS\n/)
    expect(text).toMatch(/\nlinks: none\n$/)
    const bad = await run(process.execPath, [path.join(root, 'dist/cli/index.js'), 'ps', '--pid', 'x']).then(() => undefined, (e: { stderr: string }) => e)
    expect(bad!.stderr).toBe("bpfkit ps: --pid takes a process id, not 'x'\n")
    const gone = await run(process.execPath, [path.join(root, 'dist/cli/index.js'), 'ps', '--pid', '999999999']).then(() => undefined, (e: { stderr: string }) => e)
    expect(gone!.stderr).toBe('bpfkit ps: no process 999999999\n')
  })
})
