// Versions of bpfkit and of the libbpf it was built with.
import { addon } from './native'

/** bpfkit's own version. */
export const version: string = (require('../package.json') as { version: string }).version

/** The libbpf the addon was built with, e.g. `v1.4`. */
export const libbpfVersion: string = addon.libbpfVersion
