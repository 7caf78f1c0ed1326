// Error codes: one union type of every code, one spelling per errno, argument errors told apart from
// the kernel's, and hints kept out of the message's first line.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { BpfError, BpfMap, BpfObject, ERRNO, ERROR_CODES, type BpfErrorCode, type ErrorOrigin } from 'bpfkit'
import { fixture, root, thrown } from './helpers'

describe('error codes', () => {
  it('code is typed as the union of every code; ERROR_CODES lists them', () => {
    expectTypeOf<BpfError['code']>().toEqualTypeOf<BpfErrorCode>()
    expectTypeOf<BpfError['origin']>().toEqualTypeOf<ErrorOrigin>()
    expectTypeOf<'EOPNOTSUPP'>().toMatchTypeOf<BpfErrorCode>()
    // @ts-expect-error: not a spelling bpfkit uses
    const alias: BpfErrorCode = 'ENOTSUP'
    void alias
    expect(ERROR_CODES).toEqual(expect.arrayContaining(['EPERM', 'EOPNOTSUPP', 'EFORMAT', 'ECLOSED', 'EBADSTATE', 'ENOBTF']))
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length)
  })

  it('every code the native addon raises is in the union', () => {
    const codes = new Set<string>()
    for (const file of fs.readdirSync(path.join(root, 'native'))) {
      if (!file.endsWith('.cc')) continue
      for (const [, code] of fs.readFileSync(path.join(root, 'native', file), 'utf8').matchAll(/"(E[A-Z0-9]{2,})"/g)) codes.add(code!)
    }
    expect(codes.size).toBeGreaterThan(10)
    expect([...codes].filter((code) => !(ERROR_CODES as readonly string[]).includes(code))).toEqual([])
  })

  it('one spelling per errno: the kernel\'s', () => {
    const name = (errno: number): string => new BpfError('x', { errno, op: 'test' }).code
    expect([name(95), name(524), name(11), name(35), name(109), name(4242)]).toEqual(['EOPNOTSUPP', 'EOPNOTSUPP', 'EAGAIN', 'EDEADLK', 'ETOOMANYREFS', 'EUNKNOWN'])
    expect(new Set(Object.values(ERRNO)).size).toBe(Object.keys(ERRNO).length)
    for (const dir of ['lib', 'native']) {
      for (const file of fs.readdirSync(path.join(root, dir), { recursive: true }) as string[]) {
        if (!/\.(ts|cc)$/.test(file)) continue
        const text = fs.readFileSync(path.join(root, dir, file), 'utf8')
        expect(text.match(/'E(NOTSUP|WOULDBLOCK|DEADLOCK)'|"E(NOTSUP|WOULDBLOCK|DEADLOCK)"/g), file).toBeNull()
      }
    }
  })

  it('argument errors are told apart from the kernel\'s EINVAL by origin', async () => {
    await using obj = BpfObject.open(fixture('sequence.bpf.o'))
    await obj.load()
    const settings = obj.map('settings')
    expect(thrown(() => settings.raw.lookup(Buffer.alloc(3)))).toMatchObject({ code: 'EINVAL', origin: 'argument', errno: undefined })
    expect(thrown(() => obj.map(42 as never))).toMatchObject({ code: 'EINVAL', origin: 'argument' })
    expect(thrown(() => obj.program('emit').autoload = false)).toMatchObject({ code: 'EBADSTATE', origin: 'state' })
    expect(thrown(() => BpfMap.create({ type: 'hash', keySize: 0, valueSize: 8, maxEntries: 1 }))).toMatchObject({ code: 'EINVAL', origin: 'kernel', errno: 22 })
    expect(thrown(() => obj.program('nope'))).toMatchObject({ code: 'ENOENT', origin: 'bpfkit' })
    obj.close()
    expect(thrown(() => settings.raw.lookup(Buffer.alloc(4)))).toMatchObject({ code: 'ECLOSED', origin: 'state' })
  })

  it('the hint is never in the first line of the message: it follows on its own line', async () => {
    const errors: BpfError[] = [
      thrown(() => BpfObject.open(fixture('sequence.bpf.o'), { pinRoot: '/tmp' })),
      thrown(() => BpfObject.open(path.join(root, 'package.json'))),
      await BpfObject.open(fixture('rejected.bpf.o'), { logger: () => {} }).load().then(() => { throw new Error('loaded') }, (e: BpfError) => e),
      new BpfError('op: it failed', { code: 'EPERM', op: 'bpf_obj_pin' }),
    ]
    for (const error of errors) {
      expect(error.hint, error.message).toBeTruthy()
      const lines = error.message.split('\n')
      expect(lines[0]).not.toContain(error.hint)
      expect(lines.at(-1)).toBe(`  hint: ${error.hint}`)
    }
  })
})
