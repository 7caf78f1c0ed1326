// The README's examples over the test fixtures and examples type-check and run as written.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { root, run } from './helpers'

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const examples = [...readme.matchAll(/```ts\n(import [^`]*?)```/g)]
  .map((m) => (m[1] as string).replace(/from '\.\//g, "from '../"))
  .filter((code) => code.includes("'test/fixtures/") || code.includes("from '../"))
  .filter((code) => !code.includes('runs until Ctrl-C'))

describe('README', () => {
  it('has runnable examples', () => expect(examples.length).toBeGreaterThanOrEqual(4))

  it.each(examples.map((code, i) => [i, code]))('example %i runs', async (i, code) => {
    // Inside the repository, so that `import … from 'bpfkit'` resolves to this package.
    const file = path.join(root, 'build', `readme-example-${i}.mts`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, code as string)
    try {
      // It type-checks (strict) and runs as written.
      const checked = await run('npx', ['tsc', '--strict', '--noEmit', '--module', 'esnext', '--moduleResolution', 'bundler', '--target', 'es2022',
        '--types', 'node', '--skipLibCheck', '--lib', 'es2022,esnext.disposable', file], { cwd: root })
      expect(checked.stdout + checked.stderr).toBe('')
      expect(checked.status).toBe(0)
      const ran = await run(process.execPath, ['--import', 'tsx', file], { cwd: root })
      expect(ran.stderr).toBe('')
      expect(ran.status).toBe(0)
    } finally {
      fs.rmSync(file, { force: true })
    }
  })
})
