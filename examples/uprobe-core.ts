// uprobe-core: user-space CO-RE ("Use BTF for userspace application CO-RE"). Builds two versions of
// a program whose `struct data` differs ({a, c, d}, then {a, b, c, d}), extracts the BTF of each with
// pahole, and runs each under ONE uprobe object (uprobe-core.bpf.c, written for the first layout)
// that reads d->a and d->c: without the merge, then relocated against the build's BTF merged with the
// kernel's, in memory (extraBtf) and from a file made by `bpfkit btf merge` (btfCustomPath).
//   npm run uprobe-core [-- --json]     (as root; needs cc and pahole from dwarves)
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { Btf, type OpenOptions } from 'bpfkit'
import { open, type Result } from './uprobe-core.skel'

const SOURCE = path.join(__dirname, 'uprobe-core', 'data.c')
// The bpfkit CLI of this checkout (`npx bpfkit btf merge …` in a project that depends on bpfkit).
const CLI = path.join(__dirname, '..', 'dist', 'cli', 'index.js')

interface Build {
  name: string
  binary: string
  /** Its types, from its DWARF (pahole --btf_encode_detached). */
  btf: string
  /** The kernel's BTF followed by the build's, as one file (bpfkit btf merge). */
  merged: string
  /** struct data as the build's BTF has it, e.g. `{a, b, c, d}`. */
  layout: string
}

interface Row {
  build: string
  layout: string
  btf: string
  /** Whether the object read through CO-RE relocations (else: at the offsets it was compiled with). */
  core: boolean
  /** The offset d->c was read at. */
  cOffset: number
  a: number
  c: number
  sum: number
  /** What add_test() itself returned in the target (d->a + d->c, always 4). */
  addTest: number
}

function run(command: string, args: string[], show: boolean): void {
  if (show) console.log(`$ ${[path.basename(command), ...args].join(' ')}`)
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'inherit'] })
}

function build(dir: string, name: string, defines: string[], show: boolean): Build {
  const binary = path.join(dir, name)
  const btf = `${binary}.btf`
  const merged = `${binary}.merged.btf`
  run('cc', ['-g', '-O1', ...defines, '-o', binary, SOURCE], show)
  run('pahole', [`--btf_encode_detached=${btf}`, binary], show)
  run(process.execPath, [CLI, 'btf', 'merge', '/sys/kernel/btf/vmlinux', btf, '-o', merged], show)
  const types = Btf.parse(btf)
  try {
    const data = types.find('data', 'struct')
    if (data === undefined) throw new Error(`${btf} has no struct data`)
    return { name, binary, btf, merged, layout: `{${types.members(data.id).map((m) => m.name).join(', ')}}` }
  } finally {
    types.close()
  }
}

/** Runs the build once with the uprobe loaded as `options` say; what the uprobe read, and what add_test() returned. */
async function traceOnce(binary: string, options: OpenOptions): Promise<{ result: Result; addTest: number }> {
  await using skel = await open(options).load()
  const target = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] })
  target.stdin.on('error', () => {}) // EPIPE if it died: its exit status says why
  let out = ''
  const exited = new Promise<number | null>((resolve, reject) => {
    target.once('error', reject)
    target.once('exit', resolve)
  })
  const ready = new Promise<void>((resolve) => {
    target.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.startsWith('ready\n')) resolve()
    })
  })
  try {
    // It calls add_test() only after a line on stdin: the uprobe is attached, to this process only, first.
    await Promise.race([ready, exited])
    if (out.startsWith('ready\n')) skel.progs.add_test.attachUprobe({ binary, symbol: 'add_test', pid: target.pid! })
  } finally {
    target.stdin.end('go\n')
  }
  const code = await exited
  const said = /^ready\nadd_test\(&d\) = (-?\d+)\n$/.exec(out)
  if (code !== 0 || said === null) throw new Error(`${binary} failed (exit ${code}): ${JSON.stringify(out)}`)
  const result = skel.bss.result
  if (result.calls !== 1) throw new Error(`the uprobe ran ${result.calls} times, not once`)
  return { result, addTest: Number(said[1]) }
}

// Column widths of the table: negative for left-aligned text, positive for right-aligned numbers.
const WIDTHS = [-9, -14, -37, -18, 3, 4, 4, 5, 12]

function columns(cells: Array<string | number>): string {
  return cells.map((cell, i) => (WIDTHS[i]! < 0 ? String(cell).padEnd(-WIDTHS[i]!) : String(cell).padStart(WIDTHS[i]!))).join('')
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } })
  if (values.help) {
    console.log('usage: uprobe-core [--json]\n  --json  one JSON object per run instead of the table')
    return
  }
  const text = !values.json
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-uprobe-core-'))
  try {
    const builds = [build(dir, 'data-v1', [], text), build(dir, 'data-v2', ['-DLAYOUT2'], text)]
    const rows: Row[] = []
    for (const b of builds) {
      const modes: Array<[string, OpenOptions]> = [
        // Only the kernel's BTF, which has no struct data: the object falls back to its compiled offsets.
        ['kernel only (no merge)', {}],
        [`kernel + ${b.name}.btf (extraBtf)`, { extraBtf: [b.btf] }],
        [`${b.name}.merged.btf (btfCustomPath)`, { btfCustomPath: b.merged }],
      ]
      for (const [btf, options] of modes) {
        const { result, addTest } = await traceOnce(b.binary, options)
        rows.push({ build: b.name, layout: b.layout, btf, core: result.core, cOffset: result.c_offset, a: result.a, c: result.c, sum: result.sum, addTest })
      }
    }
    if (values.json) {
      for (const row of rows) console.log(JSON.stringify(row))
      return
    }
    console.log()
    console.log(columns(['BUILD', 'LAYOUT', 'BTF', 'READ BY', 'C@', 'A', 'C', 'A+C', 'add_test()']))
    for (const r of rows) {
      const note = r.sum === r.addTest ? '' : '  <- wrong field'
      console.log(columns([r.build, r.layout, r.btf, r.core ? 'CO-RE' : 'compiled offsets', r.cOffset, r.a, r.c, r.sum, r.addTest]) + note)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
