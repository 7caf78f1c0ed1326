// The README's examples over the test fixtures and examples type-check and run as written.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { root } from './helpers'

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const examples = [...readme.matchAll(/```ts\n(import [^`]*?)```/g)]
  .map((m) => (m[1] as string).replace(/from '\.\//g, "from '../"))
  .filter((code) => code.includes("'test/fixtures/") || code.includes("'examples/") || code.includes("from '../"))
  .filter((code) => !code.includes('runs until Ctrl-C'))

describe('README', () => {
  it('has runnable examples', () => expect(examples.length).toBeGreaterThanOrEqual(4))

  // Asynchronously: a worker blocked for a minute (tsc on a loaded machine) misses vitest's own messages.
  const run = promisify(execFile)
  it.each(examples.map((code, i) => [i, code]))('example %i runs', async (i, code) => {
    // Inside the repository, so that `import … from 'bpfkit'` resolves to this package.
    const file = path.join(root, 'build', `readme-example-${i}.mts`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, code as string)
    try {
      // It type-checks (strict) and runs as written.
      await run('npx', ['tsc', '--strict', '--noEmit', '--module', 'esnext', '--moduleResolution', 'bundler', '--target', 'es2022',
        '--types', 'node', '--skipLibCheck', '--lib', 'es2022,esnext.disposable', file], { cwd: root })
      await run(process.execPath, ['--import', 'tsx', file], { cwd: root })
    } finally {
      fs.rmSync(file, { force: true })
    }
  })
})
