// uprobe-core end to end: one uprobe object reads the right fields of a struct whose layout differs
// between two builds once libbpf relocates it against the build's BTF merged with the kernel's
// (extraBtf, or a file from `bpfkit btf merge` as btfCustomPath), and the wrong one without.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SCALE, root } from './helpers'

function uprobeCore(...args: string[]): string {
  const run = spawnSync('npm', ['run', '-s', 'uprobe-core', '--', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 * SCALE })
  expect(run.status, run.stderr).toBe(0)
  return run.stdout
}

const V1 = { build: 'data-v1', layout: '{a, c, d}' }
const V2 = { build: 'data-v2', layout: '{a, b, c, d}' }
const RIGHT_V1 = { core: true, cOffset: 4, a: 1, c: 3, sum: 4, addTest: 4 }
const RIGHT_V2 = { core: true, cOffset: 8, a: 1, c: 3, sum: 4, addTest: 4 }

describe('uprobe-core', () => {
  it('--json: merged BTF reads a=1 c=3 for both layouts; without it the second build reads b as c', () => {
    const rows = uprobeCore('--json').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(rows).toEqual([
      // The object's compiled offsets are the first layout's: right for v1…
      { ...V1, btf: 'kernel only (no merge)', core: false, cOffset: 4, a: 1, c: 3, sum: 4, addTest: 4 },
      { ...V1, btf: 'kernel + data-v1.btf (extraBtf)', ...RIGHT_V1 },
      { ...V1, btf: 'data-v1.merged.btf (btfCustomPath)', ...RIGHT_V1 },
      // …and wrong for v2, where offset 4 holds b = 2: 1 + 2 = 3, while add_test() itself returns 4.
      { ...V2, btf: 'kernel only (no merge)', core: false, cOffset: 4, a: 1, c: 2, sum: 3, addTest: 4 },
      // Relocated against v2's BTF, c is read at 8, in memory (extraBtf) as from the CLI's merged file.
      { ...V2, btf: 'kernel + data-v2.btf (extraBtf)', ...RIGHT_V2 },
      { ...V2, btf: 'data-v2.merged.btf (btfCustomPath)', ...RIGHT_V2 },
    ])
  })

  it('prints the commands it ran and a table of both builds with and without the merge', () => {
    const out = uprobeCore()
    const [commands, table] = out.split('\n\n')
    const dir = /^\$ cc -g -O1 -o (\/\S+)\/data-v1 \S+\/examples\/uprobe-core\/data\.c$/m.exec(commands!)?.[1]
    expect(dir, commands).toBeDefined()
    expect(fs.existsSync(dir!)).toBe(false) // builds and BTF files are removed
    expect(commands!.split('\n').map((line) => line.replace(/ \S+\/dist\/cli\/index\.js /, ' bpfkit ').replaceAll(dir!, 'DIR'))).toEqual([
      expect.stringMatching(/^\$ cc -g -O1 -o DIR\/data-v1 \S+\/data\.c$/),
      '$ pahole --btf_encode_detached=DIR/data-v1.btf DIR/data-v1',
      '$ node bpfkit btf merge /sys/kernel/btf/vmlinux DIR/data-v1.btf -o DIR/data-v1.merged.btf',
      expect.stringMatching(/^\$ cc -g -O1 -DLAYOUT2 -o DIR\/data-v2 \S+\/data\.c$/),
      '$ pahole --btf_encode_detached=DIR/data-v2.btf DIR/data-v2',
      '$ node bpfkit btf merge /sys/kernel/btf/vmlinux DIR/data-v2.btf -o DIR/data-v2.merged.btf',
    ])
    expect(table!.trimEnd().split('\n')).toEqual([
      'BUILD    LAYOUT        BTF                                  READ BY            C@   A   C  A+C  add_test()',
      'data-v1  {a, c, d}     kernel only (no merge)               compiled offsets    4   1   3    4           4',
      'data-v1  {a, c, d}     kernel + data-v1.btf (extraBtf)      CO-RE               4   1   3    4           4',
      'data-v1  {a, c, d}     data-v1.merged.btf (btfCustomPath)   CO-RE               4   1   3    4           4',
      'data-v2  {a, b, c, d}  kernel only (no merge)               compiled offsets    4   1   2    3           4  <- wrong field',
      'data-v2  {a, b, c, d}  kernel + data-v2.btf (extraBtf)      CO-RE               8   1   3    4           4',
      'data-v2  {a, b, c, d}  data-v2.merged.btf (btfCustomPath)   CO-RE               8   1   3    4           4',
    ])
  })
})
