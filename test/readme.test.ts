// The README's examples over the test fixtures and examples type-check and run as written.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root } from './helpers'

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const examples = [...readme.matchAll(/```ts\n(import [\s\S]*?)\n```/g)]
  .map((m) => (m[1] as string).replace(/from '\.\//g, "from '../"))
  // Those over the repository's objects, or over none (`prog.bpf.o` and the like stand for the reader's own).
  .filter((code) => code.includes("'test/fixtures/") || code.includes("'examples/") || code.includes("from '../") || !code.includes('.bpf.o'))
  .filter((code) => !code.includes('runs until Ctrl-C'))

// Inside the repository, so that `import … from 'bpfkit'` resolves to this package.
const file = (i: number): string => path.join(root, 'build', `readme-example-${i}.mts`)

describe('README', () => {
  // Asynchronously: a worker blocked for a minute (tsc on a loaded machine) misses vitest's own messages.
  const run = promisify(execFile)
  let checked: Promise<unknown>

  beforeAll(() => {
    fs.mkdirSync(path.join(root, 'build'), { recursive: true })
    examples.forEach((code, i) => fs.writeFileSync(file(i), code))
    // All of them type-check (strict), in one compiler run.
    checked = run('npx', ['tsc', '--strict', '--noEmit', '--module', 'esnext', '--moduleResolution', 'bundler', '--target', 'es2022',
      '--types', 'node', '--skipLibCheck', '--lib', 'es2022,esnext.disposable', ...examples.map((_, i) => file(i))], { cwd: root })
    checked.catch(() => {})
  })
  afterAll(() => examples.forEach((_, i) => fs.rmSync(file(i), { force: true })))

  it('has runnable examples, which type-check', async () => {
    expect(examples.length).toBeGreaterThanOrEqual(12)
    await checked
  })

  it.each(examples.map((code, i) => [i, code]))('example %i runs as written', async (i) => {
    await run(process.execPath, ['--import', 'tsx', file(i as number)], { cwd: root })
  })
})
