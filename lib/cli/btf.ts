// `bpfkit gen vmlinux` and `bpfkit btf dump`: C headers and JSON from BTF (the kernel's or a file's).
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Command } from 'commander'
import { Btf } from '../btf/btf'
import { endOnClosedOutput, fail } from './fail'

function load(file: string | undefined): Btf {
  return file === undefined ? Btf.vmlinux() : Btf.parse(file)
}

export function addVmlinuxCommand(gen: Command): void {
  gen
    .command('vmlinux')
    .description("write vmlinux.h: every type of the running kernel's BTF (or --btf FILE) as C, with CO-RE's preserve_access_index")
    .option('-o, --output <file>', 'where to write it (default: vmlinux.h; - for standard output)', 'vmlinux.h')
    .option('--btf <file>', 'BTF to dump instead of /sys/kernel/btf/vmlinux (raw BTF or an ELF file with .BTF)')
    .action((flags: { output: string; btf?: string }) => {
      let header: string
      try {
        header = load(flags.btf).toC()
      } catch (error) {
        fail('gen vmlinux', error)
      }
      if (flags.output === '-') {
        endOnClosedOutput('gen vmlinux')
        process.stdout.write(header)
        return
      }
      fs.mkdirSync(path.dirname(path.resolve(flags.output)), { recursive: true })
      fs.writeFileSync(flags.output, header)
      process.stdout.write(`wrote ${flags.output} (${header.split('\n').length} lines)\n`)
    })
}

export function addBtfCommand(program: Command): void {
  const btf = program.command('btf').description('inspect BTF')
  btf
    .command('merge')
    .description("write one BTF with every type of <base> then of each <extra> (user-space CO-RE: the kernel's BTF plus a program's)")
    .argument('<base>', 'the base BTF, e.g. /sys/kernel/btf/vmlinux')
    .argument('<extra...>', 'more BTF: pahole --btf_encode_detached output, or an ELF file with .BTF')
    .requiredOption('-o, --output <file>', 'where to write the merged BTF')
    .action((base: string, extras: string[], flags: { output: string }) => {
      try {
        const merged = Btf.merge(Btf.parse(base), ...extras.map((file) => Btf.parse(file)))
        fs.writeFileSync(flags.output, merged.rawData())
        process.stdout.write(`wrote ${flags.output} (${merged.count - 1} types)\n`)
      } catch (error) {
        fail('btf merge', error)
      }
    })
  btf
    .command('dump')
    .description('print the types of a BTF file (raw BTF, or an ELF object with .BTF) as C or as JSON')
    .argument('<file>', 'the BTF: /sys/kernel/btf/vmlinux, a .btf file, a .bpf.o')
    .option('--format <format>', 'c or json', 'c')
    .action((file: string, flags: { format: string }) => {
      if (flags.format !== 'c' && flags.format !== 'json') fail('btf dump', `--format must be c or json, not '${flags.format}'`)
      endOnClosedOutput('btf dump')
      try {
        const types = load(file)
        if (flags.format === 'c') {
          process.stdout.write(types.toC())
        } else {
          const all = [...types.types()]
          process.stdout.write(`${JSON.stringify(all, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`)
        }
      } catch (error) {
        fail('btf dump', error)
      }
    })
}
