// Every struct and union of the running kernel's BTF through a compiled codec: the widest input the
// codecs get. Its own file, so that the kernels' CI subset (npm run test:kernels) can leave it out.
import { describe, expect, it } from 'vitest'
import { Btf } from 'bpfkit'

describe('BTF of the running kernel', () => {
  it('compiles a codec for every struct and union of the running kernel, which round-trips', async () => {
    const vmlinux = Btf.vmlinux()
    let compiled = 0
    for (const type of vmlinux.types()) {
      if (type.kind !== 'struct' && type.kind !== 'union') continue
      const codec = vmlinux.codec(type.id)
      const zero = Buffer.alloc(type.size)
      expect(codec.encode(codec.decode(zero)).equals(zero), vmlinux.typeName(type.id)).toBe(true)
      // A minute of work on a slow machine: let the test runner's messages through now and then.
      if (++compiled % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    expect(compiled).toBeGreaterThan(1000)
    vmlinux.close()
  })
})
