// A fresh TypeScript project compiles against bpfkit's declarations with no settings but strict and
// nodenext: @types/node comes with the package, and nothing else (no lib, no types) is needed.
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { root } from './helpers'

const run = promisify(execFile)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-consumer-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('a TypeScript consumer', () => {
  it('compiles import { BpfObject } from "bpfkit" with only strict and module nodenext', async () => {
    fs.mkdirSync(path.join(dir, 'node_modules'))
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'bpfkit'))
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n')
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), '{ "compilerOptions": { "strict": true, "module": "nodenext", "noEmit": true } }\n')
    fs.writeFileSync(path.join(dir, 'index.ts'), [
      "import { BpfObject, BpfMap, features, type BpfErrorCode } from 'bpfkit'",
      '',
      "await using obj = BpfObject.open('prog.bpf.o')",
      "using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1 })",
      "const code: BpfErrorCode = 'EOPNOTSUPP'",
      "console.log(obj.maps.length, map.fd, code, features.attach('tp_btf'))",
      '',
    ].join('\n'))
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc')
    const result = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(() => '', (error: { stdout: string }) => error.stdout)
    expect(result).toBe('')
  })
})
