// Network namespace programs: an sk_lookup program steers connections in a namespace of the test's
// own, and a flow dissector attaches there; both as netns links.
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BpfObject } from 'bpfkit'
import { fixture, root, thrown } from './helpers'

const ns = `bpfkit-netns-${process.pid}`

beforeAll(() => {
  execFileSync('ip', ['netns', 'add', ns])
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])
})
afterAll(() => execFileSync('ip', ['netns', 'del', ns]))

/** Runs an ES module in the namespace; what it prints last is its JSON result. */
function inNamespace(script: string): any {
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { cwd: root }).toString()
  return JSON.parse(out.trim().split('\n').pop()!)
}

const bpfkit = JSON.stringify(path.join(root, 'dist/index.mjs'))

describe('netns programs', () => {
  it('sk_lookup steers connections to one port to a listener (in a sockmap) on another, until its link is closed', () => {
    const result = inNamespace(`
      import * as net from 'node:net'
      import { BpfObject } from ${bpfkit}
      const obj = BpfObject.open(${JSON.stringify(fixture('netns.bpf.o'))})
      obj.rodata.steer_port = 7001
      obj.program('dissect').autoload = false
      await obj.load()
      const server = net.createServer((socket) => socket.end('steered'))
      await new Promise((resolve) => server.listen(7000, '127.0.0.1', resolve))
      obj.map('listener').set(0, server)
      const cookie = obj.map('listener').get(0)
      const connect = (port) => new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1')
        let data = ''
        socket.on('data', (chunk) => (data += chunk))
        socket.on('end', () => resolve(data))
        socket.on('error', (error) => resolve(error.code))
      })
      const before = await connect(7001)
      const link = obj.program('steer').attachNetns()
      const info = link.info()
      const during = await connect(7001)
      link.close()
      const after = await connect(7001)
      server.close()
      console.log(JSON.stringify({ before, during, after, info: { type: info.type, attachType: info.attachType }, steered: Number(obj.bss.steered), cookie: typeof cookie }))
      obj.close()`)
    expect(result).toEqual({
      before: 'ECONNREFUSED', during: 'steered', after: 'ECONNREFUSED',
      info: { type: 'netns', attachType: 'sk_lookup' }, steered: 1, cookie: 'bigint',
    })
  })

  it('a flow dissector attaches to a namespace by path, as a netns link; other programs and paths are refused', async () => {
    await using obj = BpfObject.open(fixture('netns.bpf.o'))
    await obj.load()
    using link = obj.program('dissect').attachNetns(`/var/run/netns/${ns}`)
    expect(link.info()).toMatchObject({ type: 'netns', attachType: 'flow_dissector' })
    expect(link.target).toBe(`netns /var/run/netns/${ns} (flow_dissector)`)
    const missing = thrown(() => obj.program('steer').attachNetns('/var/run/netns/bpfkit-no-such-netns'))
    expect(missing).toMatchObject({ code: 'ENOENT', op: 'program.attachNetns' })
    expect(missing.hint).toMatch(/ip netns add/)
    const other = BpfObject.open(fixture('link-update.bpf.o'))
    await other.load()
    expect(thrown(() => other.program('count_a').attachNetns()).code).toBe('EINVAL')
    other.close()
  })
})
