// `bpfkit build`: compiles BPF C with the CO-RE flags, a cached vmlinux.h of the running kernel (with
// kfunc prototypes) and bpfkit.bpf.h on the include path, strips DWARF (keeping BTF), and adds to the BTF
// the program's own types that clang left out.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Command } from 'commander'
import { Btf } from '../btf/btf'
import { GNU_TRIPLET } from '../elf'
import { fail } from './fail'
import { skeletonOf } from './gen'
import { addHeaderTypes } from './header-types'

const ARCHES: Record<string, string> = { x64: 'x86', arm64: 'arm64', arm: 'arm', s390x: 's390', ppc64: 'powerpc', riscv64: 'riscv', loong64: 'loongarch' }

/** The first of `names` on PATH. */
function which(names: string[]): string | undefined {
  for (const name of names) {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const file = path.join(dir, name)
      if (dir !== '' && fs.existsSync(file)) return file
    }
  }
  return undefined
}

/**
 * The newest of the installed `names`, by what `--version` says: clang 15 is the first to write a
 * 64-bit enum as BTF's ENUM64 (clang 14 cuts its values to 32 bits), and Debian's `clang` may be older
 * than a `clang-16` beside it.
 */
function newest(names: string[]): { file: string; major: number } | undefined {
  let best: { file: string; major: number } | undefined
  for (const name of names) {
    const file = which([name])
    if (file === undefined) continue
    const version = spawnSync(file, ['--version'], { encoding: 'utf8' }).stdout ?? ''
    const major = Number(/version (\d+)/.exec(version)?.[1] ?? 0)
    if (best === undefined || major > best.major) best = { file, major }
  }
  return best
}

/** What the generated vmlinux.h holds: a new format (kfunc prototypes) makes a new cache entry. */
const VMLINUX_FORMAT = 'kfuncs'

/** vmlinux.h of the running kernel, regenerated when its BTF changes; returns its directory. */
function vmlinuxDirectory(): string {
  const btf = fs.readFileSync('/sys/kernel/btf/vmlinux')
  const key = createHash('sha256').update(VMLINUX_FORMAT).update(btf).digest('hex').slice(0, 16)
  const dir = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'bpfkit', `vmlinux-${key}`)
  const header = path.join(dir, 'vmlinux.h')
  if (!fs.existsSync(header)) {
    fs.mkdirSync(dir, { recursive: true })
    const temporary = `${header}.${process.pid}`
    fs.writeFileSync(temporary, Btf.vmlinux().toC())
    fs.renameSync(temporary, header)
  }
  return dir
}

export function addBuildCommand(program: Command): void {
  program
    .command('build')
    .description('compile BPF C (CO-RE flags, vmlinux.h of this kernel, libbpf and bpfkit headers), strip DWARF, keep BTF')
    .argument('<sources...>', '.bpf.c files; each gives a .bpf.o beside it')
    .option('-o, --output <file>', 'the object to write (one source only)')
    .option('--arch <arch>', 'target architecture for __TARGET_ARCH_* (x86, arm64, …)', ARCHES[process.arch] ?? process.arch)
    .option('--skeleton', 'also write each object\'s .skel.ts (bpfkit gen skeleton)')
    .action((sources: string[], flags: { output?: string; arch: string; skeleton?: boolean }) => {
      const dash = process.argv.indexOf('--')
      const extra = dash >= 0 ? process.argv.slice(dash + 1) : []
      const inputs = dash >= 0 ? sources.filter((s) => !extra.includes(s)) : sources
      if (flags.output !== undefined && inputs.length !== 1) fail('build', '-o takes one source')
      const compiler = newest(['clang', 'clang-19', 'clang-18', 'clang-17', 'clang-16', 'clang-15', 'clang-14'])
      if (compiler === undefined) fail('build', 'clang is not installed: apt-get install clang llvm (Debian/Ubuntu)')
      const clang = compiler.file
      if (compiler.major > 0 && compiler.major < 15) {
        console.error(`bpfkit build: ${path.basename(clang)} is clang ${compiler.major}, which writes 64-bit enum values cut to 32 bits: clang 15 or newer writes them whole`)
      }
      const strip = which(['llvm-strip', 'llvm-strip-18', 'llvm-strip-17', 'llvm-strip-16', 'llvm-strip-15', 'llvm-strip-14'])
      if (strip === undefined) fail('build', 'llvm-strip is not installed: apt-get install llvm')
      const objcopy = which(['llvm-objcopy', 'llvm-objcopy-18', 'llvm-objcopy-17', 'llvm-objcopy-16', 'llvm-objcopy-15', 'llvm-objcopy-14'])
      if (objcopy === undefined) fail('build', 'llvm-objcopy is not installed: apt-get install llvm')
      if (!fs.existsSync('/usr/include/bpf/bpf_helpers.h')) fail('build', "libbpf's headers are missing: apt-get install libbpf-dev")
      let vmlinux: string
      try {
        vmlinux = vmlinuxDirectory()
      } catch (error) {
        fail('build', `cannot make vmlinux.h: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
      }
      const include = path.resolve(__dirname, '../../bpf/include')
      for (const source of inputs) {
        const output = flags.output ?? source.replace(/(\.bpf)?\.c$/, '') + '.bpf.o'
        const compile = (input: string, object: string): void => {
          const args = ['-g', '-O2', '-target', 'bpf', `-D__TARGET_ARCH_${flags.arch}`, `-I${vmlinux}`, `-I${include}`,
            ...multiarchIncludes(), ...extra, '-c', input, '-o', object]
          // clang's diagnostics go to the terminal as clang prints them.
          const compiled = spawnSync(clang, args, { stdio: 'inherit' })
          if (compiled.status !== 0) fail('build', `clang failed on ${source}`)
          const stripped = spawnSync(strip, ['-g', object], { stdio: 'inherit' })
          if (stripped.status !== 0) fail('build', `llvm-strip failed on ${object}`)
        }
        compile(source, output)
        // Types the program defines but reaches only through pointers, for readers and skeletons to name.
        const added = addHeaderTypes(source, output, compile, (object, btf) => {
          const copied = spawnSync(objcopy, ['--update-section', `.BTF=${btf}`, object], { stdio: 'inherit' })
          if (copied.status !== 0) fail('build', `llvm-objcopy failed on ${object}`)
        })
        process.stdout.write(`built ${output}${added.length > 0 ? ` (BTF of ${added.join(', ')} added)` : ''}\n`)
        if (flags.skeleton) {
          // As `bpfkit gen skeleton OBJECT` writes it, so that its --check finds it up to date.
          const { output: module, source } = skeletonOf(output, {})
          fs.writeFileSync(module, source)
          process.stdout.write(`wrote ${module}\n`)
        }
      }
    })
}

/** The host's multiarch header directory (asm/errno.h, which usdt.bpf.h needs), searched after the others. */
function multiarchIncludes(): string[] {
  const dir = `/usr/include/${GNU_TRIPLET}`
  return fs.existsSync(dir) ? ['-idirafter', dir] : []
}
