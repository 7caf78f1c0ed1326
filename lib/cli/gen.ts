// `bpfkit gen skeleton`: writes (or checks) the typed TypeScript skeleton of a compiled object.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Command } from 'commander'
import { BpfError } from '../errors'
import { generateSkeleton } from '../skeleton/generate'
import { addVmlinuxCommand } from './btf'
import { fail } from './fail'

interface SkeletonFlags {
  output?: string
  name?: string
  embed?: boolean
  path?: boolean
  type: string[]
  check?: boolean
}

export function addGenCommand(program: Command): void {
  const gen = program.command('gen').description('generate code: typed skeletons, vmlinux.h')
  addVmlinuxCommand(gen)
  gen
    .command('skeleton')
    .description('write a typed TypeScript skeleton (types, maps, programs, globals, open()) of a .bpf.o')
    .argument('<object>', 'the compiled BPF object (clang -g -target bpf …)')
    .option('-o, --output <file>', 'where to write it (default: the object\'s path with .skel.ts)')
    .option('--name <name>', 'the skeleton\'s name (default: the object\'s file name)')
    .option('--embed', 'embed the object\'s bytes in the module (the default)')
    .option('--path', 'load the object from its path, relative to the module (a CommonJS module: __dirname), at open()')
    .option('--type <name>', 'also describe this C type (repeatable), e.g. the events of a perf buffer',
      (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--check', 'exit 1 when the existing output is not what would be generated (stale)')
    .action((object: string, flags: SkeletonFlags) => {
      if (flags.embed && flags.path) fail('gen skeleton', '--embed and --path exclude each other')
      const { output, source, args } = skeletonOf(object, flags)
      if (flags.check) {
        const existing = fs.existsSync(output) ? fs.readFileSync(output, 'utf8') : undefined
        if (existing === undefined) fail('gen skeleton', `${output} does not exist: generate it with bpfkit gen skeleton ${args.join(' ')}`)
        if (existing !== source) fail('gen skeleton', `${output} is stale: regenerate it with bpfkit gen skeleton ${args.join(' ')}`)
        process.stdout.write(`${output} is up to date\n`)
        return
      }
      try {
        fs.mkdirSync(path.dirname(path.resolve(output)), { recursive: true })
        fs.writeFileSync(output, source)
      } catch (error) {
        fail('gen skeleton', `cannot write ${output}: ${(error as Error).message}`)
      }
      process.stdout.write(`wrote ${output}\n`)
    })
}

/**
 * The skeleton of `object` as `bpfkit gen skeleton` writes it (and `bpfkit build --skeleton`): where,
 * what, and the arguments its header's regenerate command records. Fails the command on an error.
 */
export function skeletonOf(object: string, flags: { output?: string; name?: string; path?: boolean; type?: string[] }): { output: string; source: string; args: string[] } {
  // Paths as the command records them (header, regenerate hint): relative, with `/`, so that one
  // skeleton reads the same however the command was spelled and wherever the repository lives.
  const normal = (file: string): string => path.relative(process.cwd(), path.resolve(file)).split(path.sep).join('/')
  const types = flags.type ?? []
  const defaultOutput = object.replace(/(\.bpf)?\.o$/, '') + '.skel.ts'
  const output = flags.output ?? defaultOutput
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(object)
  } catch (error) {
    fail('gen skeleton', `cannot read ${object}: ${(error as Error).message}`)
  }
  const explicit = flags.output !== undefined && normal(flags.output) !== normal(defaultOutput)
  const args = [normal(object), ...(explicit ? ['-o', normal(output)] : []), ...(flags.name ? ['--name', flags.name] : []),
    ...(flags.path ? ['--path'] : []), ...types.flatMap((t) => ['--type', t])].map(shellWord)
  try {
    const source = generateSkeleton(bytes, {
      objectPath: normal(object),
      modulePath: output,
      name: flags.name,
      embed: !flags.path,
      types,
      command: `bpfkit gen skeleton ${args.join(' ')}`,
    })
    return { output, source, args }
  } catch (error) {
    if (error instanceof BpfError) fail('gen skeleton', error)
    throw error
  }
}

/** `word` as a POSIX shell reads it back: as is when it is plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}
