// ELF: finding the binary a uprobe or USDT names, the functions its symbol tables list, and the
// libraries and symbol versions a shared object needs.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { BpfError, systemError } from './errors'

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
  /**
   * A GNU indirect function (STT_GNU_IFUNC, as glibc's `memcpy` or libm's `cos`): its address is the
   * resolver that picks an implementation when the binary is loaded, not the code that runs.
   */
  ifunc: boolean
}

/** What a shared object needs from the dynamic linker: its DT_NEEDED libraries and the symbol versions it uses. */
export interface ElfNeeds {
  /** `libc.so.6`, `libgcc_s.so.1`…, in DT_NEEDED order. */
  libraries: string[]
  /** By library: the versions the object's symbols are bound to (`GLIBC_2.2.5`…), sorted oldest first. */
  versions: Record<string, string[]>
}

const SHT_SYMTAB = 2
const SHT_DYNAMIC = 6
const SHT_DYNSYM = 11
const SHT_GNU_VERNEED = 0x6ffffffe
const DT_NEEDED = 1n
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
  if (binary.includes('\0')) throw new BpfError(`${op}: the binary's name holds a NUL byte`, { code: 'EINVAL', op, origin: 'argument' })
  if (binary.includes('/')) {
    if (!fs.existsSync(binary)) throw notFound(op, `no such binary: ${binary}`)
    return checkElf(op, path.resolve(binary))
  }
  const library = binary.endsWith('.so') || binary.includes('.so.')
  const dirs = library
    ? [...(process.env.LD_LIBRARY_PATH ?? '').split(':'), ...LIBRARY_DIRS]
    : (process.env.PATH ?? '').split(':')
  for (const dir of dirs) {
    if (dir === '') continue
    const candidate = path.join(dir, binary)
    if (isFile(candidate)) return checkElf(op, fs.realpathSync(candidate))
  }
  throw notFound(op, `${library ? 'library' : 'binary'} '${binary}' not found in ${library ? 'LD_LIBRARY_PATH or the system library directories' : 'PATH'}`)
}

/** Whether `candidate` is a file: a search skips anything else, and entries it cannot look into. */
function isFile(candidate: string): boolean {
  try {
    return fs.statSync(candidate, { throwIfNoEntry: false })?.isFile() === true
  } catch {
    return false // ENOTDIR (a PATH entry that is a file), EACCES
  }
}

/** `file` when it is an ELF file (what a uprobe can be in); a directory, a script or data is refused here. */
function checkElf(op: string, file: string): string {
  const magic = Buffer.alloc(4)
  let directory = false
  try {
    const fd = fs.openSync(file, 'r')
    try {
      fs.readSync(fd, magic, 0, 4, 0)
    } finally {
      fs.closeSync(fd)
    }
  } catch (error) {
    directory = (error as NodeJS.ErrnoException).code === 'EISDIR'
    if (!directory) throw systemError(op, `cannot read ${file}`, error)
  }
  if (magic.readUInt32BE(0) !== 0x7f454c46) {
    throw new BpfError(`${op}: ${file} is ${directory ? 'a directory' : 'not an ELF file'}`, {
      code: directory ? 'EISDIR' : 'ENOEXEC', op, hint: 'give the executable or shared library the function is in (a path, or a name searched in PATH or the library directories)',
    })
  }
  return file
}

/** The functions (and GNU ifuncs) in an ELF file's .symtab and .dynsym. */
export function elfFunctions(file: string): ElfSymbol[] {
  return readElf('elfFunctions', file, readFunctions)
}

// The attach calls' reads of elfFunctions, by path: a libc takes some 7 ms to read.
const functionCache = new Map<string, { stamp: string; functions: readonly ElfSymbol[] }>()
const FUNCTION_CACHE_FILES = 8

/** @internal elfFunctions(file), read again only when the file changed (its inode, size or mtime). */
export function functionsOf(file: string): readonly ElfSymbol[] {
  let stat: fs.BigIntStats
  try {
    stat = fs.statSync(file, { bigint: true })
  } catch (error) {
    throw systemError('elfFunctions', `cannot read ${file}`, error)
  }
  const stamp = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}`
  const cached = functionCache.get(file)
  if (cached?.stamp === stamp) return cached.functions
  const functions = elfFunctions(file)
  functionCache.delete(file)
  functionCache.set(file, { stamp, functions })
  if (functionCache.size > FUNCTION_CACHE_FILES) functionCache.delete(functionCache.keys().next().value!)
  return functions
}

/**
 * @internal Whether `name` (without a version) is a GNU indirect function of `file`: then the symbol a
 * program calls by that name is the IFUNC, even where an older version of the name is a plain function
 * (glibc's memcpy@GLIBC_2.2.5, which libbpf would pick).
 */
export function isIndirect(file: string, name: string): boolean {
  try {
    return functionsOf(file).some((f) => f.ifunc && f.name === name)
  } catch {
    return false // libbpf says what is wrong with the file
  }
}

/** The libraries and symbol versions a shared object or executable needs (what `objdump -p` lists). */
export function elfNeeds(file: string): ElfNeeds {
  return readElf('elfNeeds', file, readNeeds)
}

function readElf<T>(op: string, file: string, read: (data: Buffer, sections: Section[]) => T): T {
  if (typeof file !== 'string' || file === '') throw new BpfError(`${op}: expected a file path`, { code: 'EINVAL', op })
  let data: Buffer
  try {
    data = fs.readFileSync(file)
  } catch (error) {
    throw systemError(op, `cannot read ${file}`, error)
  }
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46) throw new BpfError(`${op}: ${file} is not an ELF file`, { code: 'ENOEXEC', op })
  if (data[4] !== 2 || data[5] !== 1) throw new BpfError(`${op}: ${file}: only 64-bit little-endian ELF is supported`, { code: 'ENOEXEC', op })
  try {
    return read(data, readSections(data))
  } catch (error) {
    // A read past the end: the headers point outside the file.
    throw new BpfError(`${op}: ${file} is a damaged ELF file`, { code: 'ENOEXEC', op, cause: error })
  }
}

interface Section {
  type: number
  addr: bigint
  offset: number
  size: number
  link: number
  entsize: number
}

function readSections(data: Buffer): Section[] {
  const shoff = Number(data.readBigUInt64LE(0x28))
  const shentsize = data.readUInt16LE(0x3a)
  const shnum = data.readUInt16LE(0x3c)
  return Array.from({ length: shnum }, (_, i) => {
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
}

/** The NUL-terminated string at `at` of string table section `strings`. */
function stringAt(data: Buffer, strings: Section | undefined, at: number): string {
  if (strings === undefined) throw new RangeError('no string table')
  const start = strings.offset + at
  const end = data.indexOf(0, start)
  if (start >= data.length || end < 0) throw new RangeError('string outside the file')
  return data.toString('latin1', start, end)
}

function readFunctions(data: Buffer, sections: Section[]): ElfSymbol[] {
  const symbols: ElfSymbol[] = []
  for (const section of sections) {
    if (section.type !== SHT_SYMTAB && section.type !== SHT_DYNSYM) continue
    const strings = sections[section.link]
    if (strings === undefined || section.entsize < 24) continue
    for (let at = section.offset; at + 24 <= section.offset + section.size; at += section.entsize) {
      const kind = data[at + 4]! & 0xf
      const shndx = data.readUInt16LE(at + 6)
      if ((kind !== STT_FUNC && kind !== STT_GNU_IFUNC) || shndx === 0 || shndx >= sections.length) continue
      const name = stringAt(data, strings, data.readUInt32LE(at)).split('@')[0]!
      const address = data.readBigUInt64LE(at + 8)
      const home = sections[shndx]!
      symbols.push({
        name,
        address,
        fileOffset: Number(address - home.addr) + home.offset,
        size: Number(data.readBigUInt64LE(at + 16)),
        table: section.type === SHT_SYMTAB ? 'symtab' : 'dynsym',
        ifunc: kind === STT_GNU_IFUNC,
      })
    }
  }
  return symbols
}

function readNeeds(data: Buffer, sections: Section[]): ElfNeeds {
  const libraries: string[] = []
  const versions: Record<string, string[]> = {}
  for (const section of sections) {
    if (section.type === SHT_DYNAMIC) {
      for (let at = section.offset; at + 16 <= section.offset + section.size; at += 16) {
        if (data.readBigUInt64LE(at) === DT_NEEDED) libraries.push(stringAt(data, sections[section.link], Number(data.readBigUInt64LE(at + 8))))
      }
    } else if (section.type === SHT_GNU_VERNEED) {
      // Elf64_Verneed { vn_version, vn_cnt: u16; vn_file, vn_aux, vn_next: u32 }, each with vn_cnt
      // Elf64_Vernaux { vna_hash: u32; vna_flags, vna_other: u16; vna_name, vna_next: u32 }.
      const strings = sections[section.link]
      for (let need = section.offset, left = section.size; left > 0; ) {
        const file = stringAt(data, strings, data.readUInt32LE(need + 4))
        const names = (versions[file] ??= [])
        for (let aux = need + data.readUInt32LE(need + 8), n = data.readUInt16LE(need + 2); n > 0; n--) {
          names.push(stringAt(data, strings, data.readUInt32LE(aux + 8)))
          const next = data.readUInt32LE(aux + 12)
          if (next === 0) break
          aux += next
        }
        names.sort(compareVersions)
        const next = data.readUInt32LE(need + 12)
        if (next === 0) break
        need += next
        left -= next
      }
    }
  }
  return { libraries, versions }
}

/** Orders `GLIBC_2.2.5` before `GLIBC_2.17`: by name, then by each numeric part. */
function compareVersions(a: string, b: string): number {
  const [pa, pb] = [a, b].map((v) => v.split(/[_.]/))
  for (let i = 0; i < Math.max(pa!.length, pb!.length); i++) {
    const [x, y] = [pa![i] ?? '', pb![i] ?? '']
    const order = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y)
    if (order !== 0) return order
  }
  return 0
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
