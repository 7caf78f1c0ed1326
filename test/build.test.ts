// `bpfkit build` for programs as tools write them: kfunc calls compile (vmlinux.h has their prototypes),
// and types reached only through pointers land in the object's BTF, so `type` and `--type` find them.
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfObject, Btf, features } from 'bpfkit'
import { root } from './helpers'

const run = promisify(execFile)
const cli = (...args: string[]) => run(process.execPath, [path.join(root, 'dist/cli/index.js'), ...args], { cwd: root })
let dir: string

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-build-'))
  fs.writeFileSync(path.join(dir, 'tool.h'), `#ifndef TOOL_H
#define TOOL_H
struct event {
	int pid;
	unsigned int argc;
	char args[16];
};
enum mode { MODE_A = 1, MODE_B = 2 };
#endif
`)
  fs.writeFileSync(path.join(dir, 'tool.bpf.c'), `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tool.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

const volatile int target_pid = 0;
int acquired_pid;

SEC("tracepoint/syscalls/sys_enter_getppid")
int emit(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = target_pid;
	e->argc = 2;
	__builtin_memcpy(e->args, "ab\\0cd\\0", 6);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* bpf_task_acquire and bpf_task_release are kfuncs: their prototypes come from vmlinux.h. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task)
{
	struct task_struct *held = bpf_task_acquire(task);
	if (!held)
		return 0;
	acquired_pid = held->pid;
	bpf_task_release(held);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`)
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('bpfkit build', () => {
  it('adds the types the program reaches only through pointers; the object still loads and reads them by name', async () => {
    const { stdout } = await cli('build', path.join(dir, 'tool.bpf.c'))
    expect(stdout).toBe(`built ${path.join(dir, 'tool.bpf.o')} (BTF of struct event, enum mode added)\n`)
    const btf = Btf.parse(path.join(dir, 'tool.bpf.o'))
    expect(btf.layout(btf.find('event', 'struct')!.id)).toBe('struct(24){pid@0 s32; argc@32 u32; args@64 s8[16]}')
    expect(btf.find('mode', 'enum')).toMatchObject({ values: [{ name: 'MODE_A', value: 1 }, { name: 'MODE_B', value: 2 }] })

    await using obj = BpfObject.open(path.join(dir, 'tool.bpf.o'))
    obj.rodata.target_pid = process.pid
    obj.program('on_exec').autoload = features.attach('tp_btf')
    await obj.load()
    obj.attach()
    const events = obj.ringBuffer('events', { type: 'event' })
    void process.ppid
    for await (const event of events) {
      expect(event).toMatchObject({ pid: process.pid, argc: 2 })
      break
    }

    const { stdout: generated } = await cli('gen', 'skeleton', path.join(dir, 'tool.bpf.o'), '--type', 'event', '-o', path.join(dir, 'tool.skel.ts'))
    expect(generated).toContain('wrote')
    expect(fs.readFileSync(path.join(dir, 'tool.skel.ts'), 'utf8')).toMatch(/export interface Event \{\n {2}\/\*\* int pid; offset 0 \*\/\n {2}pid: number/)
  })

  it.runIf(features.attach('tp_btf'))('compiles kfunc calls against its vmlinux.h, and they run', async () => {
    await cli('gen', 'vmlinux', '-o', path.join(dir, 'vmlinux.h'))
    const header = fs.readFileSync(path.join(dir, 'vmlinux.h'), 'utf8')
    expect(header).toMatch(/\/\* BPF kfuncs \*\/\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n/)
    expect(header).toContain('extern struct task_struct *bpf_task_acquire(struct task_struct *p) __weak __ksym;')
    await using obj = BpfObject.open(path.join(dir, 'tool.bpf.o'))
    obj.program('emit').autoload = false
    await obj.load()
    obj.attach()
    const { execFileSync } = await import('node:child_process')
    execFileSync('true')
    expect(obj.bss.acquired_pid).toBeGreaterThan(0)
  })
})
