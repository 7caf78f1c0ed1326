// The CLI's kernel tools: `gen vmlinux` (its header compiles real CO-RE programs, which then load),
// `btf dump`, and `doctor`, checked against what this kernel does.
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Btf, BpfObject } from 'bpfkit'
import { example, fixture, root } from './helpers'

const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'dist/cli/index.js'), ...args], { cwd: root, encoding: 'utf8' })

describe('bpfkit CLI', () => {
  it('doctor --json reports this kernel: BTF, tracepoints, ring buffers, tp_btf and iterators yes, kprobes and fentry no', () => {
    const result = cli('doctor', '--json')
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout) as {
      kernel: string
      checks: Array<{ name: string; ok: boolean; fix?: string }>
      programTypes: Record<string, boolean>
      mapTypes: Record<string, boolean>
      helpers: Record<string, boolean>
      attach: Record<string, boolean>
    }
    const check = (name: string) => report.checks.find((c) => c.name === name)
    expect(report.kernel).toBe(fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim())
    expect(check('BTF')?.ok).toBe(true)
    expect(check('tracefs')?.ok).toBe(true)
    expect(check('root')?.ok).toBe(true)
    expect(report.programTypes).toMatchObject({ tracepoint: true, raw_tracepoint: true, xdp: true, socket_filter: true, cgroup_skb: true })
    expect(report.mapTypes).toMatchObject({ ringbuf: true, hash: true, perf_event_array: true, bloom_filter: true })
    expect(report.helpers).toMatchObject({ ringbuf_reserve: true, ringbuf_query: true, loop: true })
    // tracefs says independently whether kprobes exist (this kernel has none, nor BPF trampolines).
    const kprobes = fs.existsSync('/sys/kernel/tracing/kprobe_events')
    expect(report.attach).toMatchObject({ tracepoint: true, uprobe: true, kprobe: kprobes })
    if (!kprobes) {
      expect(check('kprobe')).toMatchObject({ ok: false, fix: expect.stringContaining('CONFIG_KPROBES') })
      expect(cli('doctor').stdout).toMatch(/^✗ kprobe +not available\n {4}fix: /m)
    }
    // Each kind probed on its own: tp_btf and iterators need no trampolines, so `tracing` may load without fentry.
    for (const kind of ['tp_btf', 'iter', 'fentry', 'fexit', 'fmod_ret', 'lsm', 'kprobe_multi', 'uprobe_multi', 'tcx']) {
      expect(check(kind)?.ok, kind).toBe(report.attach[kind])
    }
    expect(report.programTypes.tracing).toBe(report.attach.tp_btf || report.attach.iter || report.attach.fentry)
  })

  it('doctor without the privileges to load programs says the kernel was not probed, rather than that it lacks everything', () => {
    const unprivileged = fs.readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim()
    const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath,
      path.join(root, 'dist/cli/index.js'), 'doctor', '--json'], { cwd: root, encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent' } })
    expect(nobody.stderr).toBe('')
    const report = JSON.parse(nobody.stdout) as { probed: boolean; checks: Array<{ name: string; ok: boolean | null; detail: string }> }
    expect(report.probed).toBe(unprivileged === '0')
    if (!report.probed) {
      expect(report.checks.find((c) => c.name === 'kernel features')).toMatchObject({ ok: null, detail: 'not probed: this process may not load BPF programs' })
      expect(report.checks.find((c) => c.name === 'tcx')).toMatchObject({ ok: null, detail: 'not probed' })
      expect(report.checks.find((c) => c.name === 'BTF')?.ok).toBe(true)
    }
  })

  it('gen vmlinux writes a vmlinux.h that compiles the examples, which then load on this kernel', async () => {
    const dir = path.join(root, 'cmake-build', 'gen-vmlinux')
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    const header = path.join(dir, 'vmlinux.h')
    const result = cli('gen', 'vmlinux', '-o', header)
    expect(result.status).toBe(0)
    const text = fs.readFileSync(header, 'utf8')
    expect(text.startsWith('#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n')).toBe(true)
    expect(text.endsWith('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n')).toBe(true)
    expect(text).toMatch(/^struct task_struct \{$/m)
    for (const name of ['execsnoop', 'forkcount']) {
      const object = path.join(dir, `${name}.bpf.o`)
      execFileSync('clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${dir}`, `-I${path.join(root, 'bpf/include')}`,
        '-c', example(`${name}.bpf.c`), '-o', object], { stdio: 'pipe' })
      const obj = BpfObject.open(object)
      await obj.load()
      expect(obj.attach().length).toBe(1)
      obj.close()
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("libbpf's debug log shows CO-RE relocation decisions, per object or with BPFKIT_DEBUG=1", async () => {
    const lines: string[] = []
    const obj = BpfObject.open(example('execsnoop.bpf.o'), { logger: (_level, message) => lines.push(message), logLevel: 'debug' })
    await obj.load()
    obj.close()
    expect(lines.some((l) => /CO-RE relocating \[\d+\] struct task_struct: found target candidate/.test(l))).toBe(true)
    expect(lines.some((l) => /relo #\d+: patched insn #\d+/.test(l))).toBe(true)
    const script = `const { BpfObject } = require(${JSON.stringify(root)}); const o = BpfObject.open(${JSON.stringify(example('execsnoop.bpf.o'))}); o.load().then(() => o.close())`
    const run = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, BPFKIT_DEBUG: '1' }, encoding: 'utf8' })
    expect(run.stderr).toMatch(/relo #\d+: patched insn/)
  })

  it("btf merge joins the kernel's BTF and a program's; extraBtf does it in memory for open()", async () => {
    const dir = path.join(root, 'cmake-build', 'btf-merge')
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    const merged = path.join(dir, 'merged.btf')
    const result = cli('btf', 'merge', '/sys/kernel/btf/vmlinux', fixture('skel-v1.bpf.o'), '-o', merged)
    expect(result.status).toBe(0)
    const btf = Btf.parse(merged)
    const kernel = Btf.vmlinux()
    // The kernel's types keep their ids (relocations against them are unchanged); the program's follow.
    expect(btf.find('task_struct', 'struct')?.id).toBe(kernel.find('task_struct', 'struct')?.id)
    expect(btf.find('skel_sample', 'struct')?.id).toBeGreaterThan(kernel.count - 1)
    expect(btf.count).toBe(kernel.count + Btf.parse(fixture('skel-v1.bpf.o')).count - 1)

    // The merge lives in a memfd until libbpf has read it: nothing in the file system, ever.
    const memfds = (): number => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:bpfkit-btf')
      } catch {
        return false
      }
    }).length
    const obj = BpfObject.open(example('execsnoop.bpf.o'), { extraBtf: [fixture('skel-v1.bpf.o')] })
    expect(memfds()).toBe(1)
    await obj.load()
    expect(memfds()).toBe(0)
    obj.close()
    expect(() => BpfObject.open(example('execsnoop.bpf.o'), { extraBtf: ['/nonexistent.btf'] })).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    BpfObject.open(example('execsnoop.bpf.o'), { extraBtf: [fixture('skel-v1.bpf.o')] }).close()
    expect(memfds()).toBe(0)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('build compiles with the CO-RE flags, a cached vmlinux.h and bpfkit.bpf.h; clang speaks for itself', async () => {
    const dir = path.join(root, 'cmake-build', 'build-test')
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    const source = path.join(dir, 'execsnoop.bpf.c')
    fs.copyFileSync(example('execsnoop.bpf.c'), source)
    const built = cli('build', source, '--skeleton', '--', '-Wall')
    expect(built.stderr).toBe('')
    expect(built.stdout).toContain('built ')
    expect(fs.existsSync(path.join(dir, 'execsnoop.skel.ts'))).toBe(true)
    const obj = BpfObject.open(path.join(dir, 'execsnoop.bpf.o'))
    await obj.load()
    expect(obj.attach()).toHaveLength(1)
    obj.close()
    fs.writeFileSync(path.join(dir, 'bad.bpf.c'), 'int f(void) { return missing; }\n')
    const bad = cli('build', path.join(dir, 'bad.bpf.c'))
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain("error: use of undeclared identifier 'missing'")
    expect(bad.stderr).toContain('bpfkit build: clang failed on')
    const noClang = spawnSync(process.execPath, [path.join(root, 'dist/cli/index.js'), 'build', source], { env: { PATH: dir }, encoding: 'utf8' })
    expect(noClang.status).toBe(1)
    expect(noClang.stderr.trim()).toBe('bpfkit build: clang is not installed: apt-get install clang llvm (Debian/Ubuntu)')
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('btf dump prints a file as C or JSON, and says what is wrong with bad input', () => {
    const c = cli('btf', 'dump', fixture('skel-v1.bpf.o'))
    expect(c.status).toBe(0)
    expect(c.stdout).toContain('struct skel_sample {\n\t__u32 id;')
    const json = cli('btf', 'dump', fixture('skel-v1.bpf.o'), '--format', 'json')
    const types = JSON.parse(json.stdout) as Array<{ kind: string; name?: string }>
    expect(types[0]).toEqual({ id: 0, kind: 'void' })
    expect(types.some((t) => t.kind === 'struct' && t.name === 'skel_sample')).toBe(true)
    const missing = cli('btf', 'dump', '/nonexistent.btf')
    expect(missing.status).toBe(1)
    expect(missing.stderr.trim()).toBe('bpfkit btf dump: btf__parse: /nonexistent.btf: No such file or directory')
    // Where libbpf says only 'Input/output error'.
    expect(cli('btf', 'dump', '/tmp').stderr.trim()).toBe('bpfkit btf dump: btf__parse: /tmp: is a directory, not BTF')
    expect(cli('btf', 'dump', '/dev/null').stderr.trim()).toBe('bpfkit btf dump: btf__parse: /dev/null: is not a regular file, not BTF')
    expect(cli('btf', 'dump', fixture('skel-v1.bpf.o'), '--format', 'yaml').stderr).toContain('--format must be c or json')
    expect(cli('gen', 'vmlinux', '--help').stdout).toContain('--btf <file>')
  })
})
