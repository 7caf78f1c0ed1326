// The label decoders by name, and registerDecoder() to add one.

import { describe, invalidArgument, reading } from '../../errors'
import type { DecoderFactory, LabelDecoder } from './decoder'
import { cgroup } from './cgroup'
import { errno } from './errno'
import { ifname } from './ifname'
import { inet } from './inet'
import { ksym } from './ksym'
import { majorminor } from './majorminor'
import { regexp } from './regexp'
import { staticTable } from './static'
import { string } from './string'
import { syscall } from './syscall'
import { uid } from './uid'

export type { DecoderFactory, LabelDecoder } from './decoder'

const decoders = new Map<string, DecoderFactory>([
  ['string', string],
  ['errno', errno],
  ['syscall', syscall],
  ['inet', inet],
  ['ifname', ifname],
  ['cgroup', cgroup],
  ['ksym', ksym],
  ['uid', uid],
  ['majorminor', majorminor],
  ['static', staticTable],
  ['regexp', regexp],
])

/** The built-in decoders that take no settings: a setting given to one is a mistake (a misspelt name?). */
const settingless = new Set<DecoderFactory>([string, errno, syscall, inet, ifname, cgroup, ksym, uid, majorminor])

/** A decoder by name and settings, as a config names it: `'errno'`, `{ name: 'static', table }`. */
export type DecoderSpec = string | ({ name: string } & Record<string, unknown>) | LabelDecoder

/** Adds a decoder that labels can then name (`decoders: ['mine']`), or replaces one. */
export function registerDecoder(name: string, factory: DecoderFactory): void {
  if (typeof name !== 'string' || !/^[A-Za-z_][\w-]*$/.test(name)) throw invalidArgument('registerDecoder', 'name must be a word such as "errno"')
  if (typeof factory !== 'function') throw invalidArgument('registerDecoder', 'factory must be a function (options) => decoder')
  decoders.set(name, factory)
}

/** The names decoders can be given by. */
export function decoderNames(): string[] {
  return [...decoders.keys()]
}

/** The decoder a spec describes; throws a BpfError naming the known decoders for an unknown name. */
export function makeDecoder(spec: DecoderSpec): LabelDecoder {
  if (typeof spec === 'function') return spec
  if (spec === null || (typeof spec !== 'string' && typeof spec !== 'object')) {
    throw invalidArgument('decoder', 'a decoder is a name, { name, ...options } or a function')
  }
  const { name, ...options } = typeof spec === 'string' ? { name: spec } : reading('decoder', 'the decoder', () => ({ ...spec }))
  if (typeof name !== 'string') throw invalidArgument('decoder', `a decoder's name is a string, got ${describe(name)}`)
  const factory = decoders.get(name)
  if (factory === undefined) throw invalidArgument('decoder', `unknown decoder '${name}' (known: ${decoderNames().join(', ')})`)
  const settings = Object.keys(options)
  if (settingless.has(factory) && settings.length > 0) {
    throw invalidArgument('decoder', `the ${name} decoder takes no settings, got '${settings[0]}'`)
  }
  return factory(options)
}

export { cgroup, errno, ifname, inet, ksym, majorminor, regexp, staticTable, string, syscall, uid }
