// Every struct and union of the running kernel's BTF through a compiled codec: the widest input the
// codecs get. Its own file, so that the kernels' CI subset (npm run test:kernels) can leave it out.
import { describe, expect, it } from 'vitest'
import { Btf } from 'bpfkit'

describe('BTF of the running kernel', () => {
  it('compiles a codec for every struct and union of the running kernel, which round-trips', () => {
    const vmlinux = Btf.vmlinux()
    let compiled = 0
    for (const type of vmlinux.types()) {
      if (type.kind !== 'struct' && type.kind !== 'union') continue
      const codec = vmlinux.codec(type.id)
      const zero = Buffer.alloc(type.size)
      expect(codec.encode(codec.decode(zero)).equals(zero), vmlinux.typeName(type.id)).toBe(true)
      compiled++
    }
    expect(compiled).toBeGreaterThan(1000)
    vmlinux.close()
  })
})
