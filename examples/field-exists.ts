// field-exists: which layout of task_struct the BPF program chose at load time, and why (CO-RE's
// bpf_core_field_exists / bpf_core_type_exists, resolved against this kernel's BTF).
//   npm run field-exists        (as root)
import { open } from './field-exists.skel'

async function main(): Promise<void> {
  await using skel = await open().load()
  skel.progs.detect.testRun() // runs the program once, in this process
  const r = skel.bss.result
  const yes = (ok: boolean): string => (ok ? 'yes' : 'no')
  console.log(`task_struct::pid exists:                   ${yes(r.has_pid)}`)
  console.log(`task_struct::bpfkit_no_such_field exists:  ${yes(r.has_legacy_field)}`)
  console.log(`struct task_struct exists:                 ${yes(r.has_task_struct)}`)
  console.log(`struct bpfkit_no_such_type exists:         ${yes(r.has_made_up_type)}`)
  console.log(`branch taken: ${r.branch} layout; tgid read through it: ${r.tgid} (this process: ${process.pid})`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
