// ELF: finding the binary a uprobe or USDT names, and the functions its symbol tables list.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { BpfError } from './errors'

export interface ElfSymbol {
  /** The symbol's name, without a version (`malloc`, not `malloc@@GLIBC_2.2.5`). */
  name: string
  /** Its address (st_value). */
  address: bigint
  /** Its offset in the file: what `attachUprobe({ offset })` takes for a stripped copy of the binary. */
  fileOffset: number
  size: number
  /** Which table listed it. */
  table: 'symtab' | 'dynsym'
}

const SHT_SYMTAB = 2
const SHT_DYNSYM = 11
const STT_FUNC = 2
const STT_GNU_IFUNC = 10

/** The host's GNU multiarch triplet (`x86_64-linux-gnu`): Debian's directory name for its libraries and headers. */
export const GNU_TRIPLET = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`

/** Multiarch directories, as libbpf's search adds them for shared libraries. */
const LIBRARY_DIRS = ['/lib64', '/usr/lib64', '/lib', '/usr/lib'].flatMap((dir) => [path.join(dir, GNU_TRIPLET), dir])

/**
 * Resolves what a uprobe names to an absolute path, as libbpf does: a path is taken as it is; a
 * library name (`libc.so.6`) is searched in LD_LIBRARY_PATH and the system library directories; any
 * other name is searched in PATH.
 */
export function resolveBinary(binary: string): string {
  if (typeof binary !== 'string' || binary === '') {
    throw new BpfError('resolveBinary: expected a path or a program or library name', { code: 'EINVAL', op: 'resolveBinary' })
  }
  return findBinary(binary, 'resolveBinary')
}

/** @internal resolveBinary for a checked name, with errors in the caller's name. */
export function findBinary(binary: string, op: string): string {
  if (binary.includes('/')) {
    if (!fs.existsSync(binary)) throw notFound(op, `no such binary: ${binary}`)
    return path.resolve(binary)
  }
  const library = binary.endsWith('.so') || binary.includes('.so.')
  const dirs = library
    ? [...(process.env.LD_LIBRARY_PATH ?? '').split(':'), ...LIBRARY_DIRS]
    : (process.env.PATH ?? '').split(':')
  for (const dir of dirs) {
    if (dir === '') continue
    const candidate = path.join(dir, binary)
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate)
  }
  throw notFound(op, `${library ? 'library' : 'binary'} '${binary}' not found in ${library ? 'LD_LIBRARY_PATH or the system library directories' : 'PATH'}`)
}

/** The functions (and GNU ifuncs) in an ELF file's .symtab and .dynsym. */
export function elfFunctions(file: string): ElfSymbol[] {
  const op = 'elfFunctions'
  if (typeof file !== 'string' || file === '') throw new BpfError(`${op}: expected a file path`, { code: 'EINVAL', op })
  let data: Buffer
  try {
    data = fs.readFileSync(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO'
    throw new BpfError(`${op}: cannot read ${file}: ${code}`, { code, op, cause: error })
  }
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46) throw new BpfError(`${op}: ${file} is not an ELF file`, { code: 'ENOEXEC', op })
  if (data[4] !== 2 || data[5] !== 1) throw new BpfError(`${op}: ${file}: only 64-bit little-endian ELF is supported`, { code: 'ENOEXEC', op })
  try {
    return readFunctions(data)
  } catch (error) {
    // A read past the end: the headers point outside the file.
    throw new BpfError(`${op}: ${file} is a damaged ELF file`, { code: 'ENOEXEC', op, cause: error })
  }
}

function readFunctions(data: Buffer): ElfSymbol[] {
  const shoff = Number(data.readBigUInt64LE(0x28))
  const shentsize = data.readUInt16LE(0x3a)
  const shnum = data.readUInt16LE(0x3c)
  const sections = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize
    return {
      type: data.readUInt32LE(at + 4),
      addr: data.readBigUInt64LE(at + 0x10),
      offset: Number(data.readBigUInt64LE(at + 0x18)),
      size: Number(data.readBigUInt64LE(at + 0x20)),
      link: data.readUInt32LE(at + 0x28),
      entsize: Number(data.readBigUInt64LE(at + 0x38)),
    }
  })
  const symbols: ElfSymbol[] = []
  for (const section of sections) {
    if (section.type !== SHT_SYMTAB && section.type !== SHT_DYNSYM) continue
    const strings = sections[section.link]
    if (strings === undefined || section.entsize < 24) continue
    for (let at = section.offset; at + 24 <= section.offset + section.size; at += section.entsize) {
      const kind = data[at + 4]! & 0xf
      const shndx = data.readUInt16LE(at + 6)
      if ((kind !== STT_FUNC && kind !== STT_GNU_IFUNC) || shndx === 0 || shndx >= sections.length) continue
      const nameAt = strings.offset + data.readUInt32LE(at)
      const nameEnd = data.indexOf(0, nameAt)
      if (nameAt >= data.length || nameEnd < 0) throw new RangeError('symbol name outside the file')
      const name = data.toString('latin1', nameAt, nameEnd).split('@')[0]!
      const address = data.readBigUInt64LE(at + 8)
      const home = sections[shndx]!
      symbols.push({
        name,
        address,
        fileOffset: Number(address - home.addr) + home.offset,
        size: Number(data.readBigUInt64LE(at + 16)),
        table: section.type === SHT_SYMTAB ? 'symtab' : 'dynsym',
      })
    }
  }
  return symbols
}

/** The names closest to `wanted` (shared prefix or substring first, then edit distance). */
export function nearMatches(wanted: string, names: Iterable<string>, count = 5): string[] {
  const base = wanted.split('@')[0]!.toLowerCase()
  const scored = [...new Set(names)].map((name) => {
    const lower = name.toLowerCase()
    const score = lower.includes(base) || base.includes(lower) ? 0 : distance(base, lower)
    return { name, score }
  })
  return scored
    .filter((entry) => entry.score <= Math.max(2, Math.floor(base.length / 3)))
    .sort((a, b) => a.score - b.score || a.name.length - b.name.length || a.name.localeCompare(b.name))
    .slice(0, count)
    .map((entry) => entry.name)
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

function notFound(op: string, message: string): BpfError {
  return new BpfError(`${op}: ${message}`, { code: 'ENOENT', op })
}
