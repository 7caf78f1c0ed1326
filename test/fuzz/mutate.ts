// Mutations of BPF ELF objects, deterministic in (seed, index): input i of a run is the same whichever
// child process makes it, so a crash is reproduced from its number alone.
import * as fs from 'node:fs'
import * as path from 'node:path'

export const root = path.resolve(__dirname, '../..')

/** Inputs that once crashed or hung something, replayed as they are by every run. */
export const findings = path.join(root, 'test/fuzz/corpus')

/** Every committed object, then the kept findings: what the mutations start from. */
export function corpus(): Array<{ name: string; bytes: Buffer }> {
  const objects = ['examples', 'test/fixtures', 'bench/maps', 'bench/ringbuf']
    .flatMap((dir) => fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.bpf.o')).map((f) => path.join(dir, f)))
    .sort()
  return objects.map((name) => ({ name, bytes: fs.readFileSync(path.join(root, name)) }))
}

export function keptFindings(): Array<{ name: string; bytes: Buffer }> {
  if (!fs.existsSync(findings)) return []
  return fs.readdirSync(findings).filter((f) => f.endsWith('.bin')).sort()
    .map((f) => ({ name: `test/fuzz/corpus/${f}`, bytes: fs.readFileSync(path.join(findings, f)) }))
}

/** xorshift32, seeded from the run's seed and the input's number. */
class Random {
  #state: number

  constructor(seed: number, index: number) {
    this.#state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0 || 1
    for (let i = 0; i < 4; i++) this.next()
  }

  next(): number {
    let x = this.#state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.#state = x >>> 0
    return this.#state
  }

  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!
  }
}

interface Section {
  index: number
  name: string
  type: number
  flags: bigint
  offset: number
  size: number
  entsize: number
  /** Where its header is in the file. */
  header: number
}

const SHT_NOBITS = 8
const SHT_REL = 9
const SHT_SYMTAB = 2
const SHF_EXECINSTR = 4n

/** The section headers of a 64-bit little-endian ELF file, as far as they can be read. */
export function sections(bytes: Buffer): Section[] {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) return []
  const shoff = Number(bytes.readBigUInt64LE(0x28))
  const shentsize = bytes.readUInt16LE(0x3a)
  const shnum = bytes.readUInt16LE(0x3c)
  const shstrndx = bytes.readUInt16LE(0x3e)
  if (shentsize !== 64 || shoff + shnum * 64 > bytes.length) return []
  const raw = Array.from({ length: shnum }, (_, index) => {
    const header = shoff + index * 64
    return {
      index, header,
      nameOffset: bytes.readUInt32LE(header),
      type: bytes.readUInt32LE(header + 4),
      flags: bytes.readBigUInt64LE(header + 8),
      offset: Number(bytes.readBigUInt64LE(header + 0x18)),
      size: Number(bytes.readBigUInt64LE(header + 0x20)),
      entsize: Number(bytes.readBigUInt64LE(header + 0x38)),
    }
  })
  const strings = raw[shstrndx]
  return raw.map((s) => {
    let name = ''
    if (strings !== undefined) {
      const start = strings.offset + s.nameOffset
      const end = bytes.indexOf(0, start)
      if (start < bytes.length && end > start) name = bytes.toString('latin1', start, end)
    }
    return { index: s.index, name, type: s.type, flags: s.flags, offset: s.offset, size: s.size, entsize: s.entsize, header: s.header }
  })
}

/** Values that find edges: zero, one, sign boundaries, all ones, large powers of two. */
const INTERESTING32 = [0, 1, 2, 4, 7, 8, 16, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]

function interesting(random: Random): number {
  return random.below(4) === 0 ? random.next() : random.pick(INTERESTING32)
}

function writeWord(bytes: Buffer, offset: number, value: number, width: 1 | 2 | 4 | 8): void {
  if (offset < 0 || offset + width > bytes.length) return
  if (width === 1) bytes.writeUInt8(value & 0xff, offset)
  else if (width === 2) bytes.writeUInt16LE(value & 0xffff, offset)
  else if (width === 4) bytes.writeUInt32LE(value >>> 0, offset)
  else bytes.writeBigUInt64LE(BigInt(value >>> 0) * (value % 3 === 0 ? 1n << 32n : 1n), offset)
}

/** A random 4-byte-aligned word inside a section's data, or undefined when it has none in the file. */
function wordIn(random: Random, section: Section | undefined, bytes: Buffer, start = 0): number | undefined {
  if (section === undefined || section.type === SHT_NOBITS || section.size <= start + 4) return undefined
  const offset = section.offset + start + random.below(Math.floor((section.size - start) / 4)) * 4
  return offset + 4 <= bytes.length ? offset : undefined
}

type Mutation = (bytes: Buffer, random: Random, list: Section[], donors: ReadonlyArray<{ bytes: Buffer }>) => { bytes: Buffer; what: string }

const MUTATIONS: Record<string, Mutation> = {
  bitflip(bytes, random) {
    const flips = 1 + random.below(8)
    for (let i = 0; i < flips; i++) {
      const bit = random.below(bytes.length * 8)
      bytes[bit >> 3]! ^= 1 << (bit & 7)
    }
    return { bytes, what: `${flips} bit flips` }
  },
  overwrite(bytes, random) {
    const width = random.pick([1, 2, 4, 8] as const)
    const offset = random.below(bytes.length - width)
    writeWord(bytes, offset, interesting(random), width)
    return { bytes, what: `${width} bytes at ${offset}` }
  },
  truncate(bytes, random, list) {
    const boundaries = [64, ...list.flatMap((s) => [s.offset, s.offset + s.size, s.header])].filter((b) => b > 0 && b < bytes.length)
    const at = boundaries.length > 0 ? random.pick(boundaries) : random.below(bytes.length)
    return { bytes: bytes.subarray(0, at), what: `truncated at ${at}` }
  },
  elfHeader(bytes, random) {
    const fields: Array<[string, number, 1 | 2 | 4 | 8]> = [
      ['ei_class', 4, 1], ['ei_data', 5, 1], ['e_type', 0x10, 2], ['e_machine', 0x12, 2], ['e_shoff', 0x28, 8],
      ['e_flags', 0x30, 4], ['e_ehsize', 0x34, 2], ['e_shentsize', 0x3a, 2], ['e_shnum', 0x3c, 2], ['e_shstrndx', 0x3e, 2],
    ]
    const [name, offset, width] = random.pick(fields)
    writeWord(bytes, offset, interesting(random), width)
    return { bytes, what: `ELF header ${name}` }
  },
  sectionHeader(bytes, random, list) {
    if (list.length === 0) return MUTATIONS.overwrite!(bytes, random, list, [])
    const section = random.pick(list)
    const fields: Array<[string, number, 4 | 8]> = [
      ['sh_name', 0, 4], ['sh_type', 4, 4], ['sh_flags', 8, 8], ['sh_offset', 0x18, 8], ['sh_size', 0x20, 8],
      ['sh_link', 0x28, 4], ['sh_info', 0x2c, 4], ['sh_addralign', 0x30, 8], ['sh_entsize', 0x38, 8],
    ]
    const [name, offset, width] = random.pick(fields)
    writeWord(bytes, section.header + offset, interesting(random), width)
    return { bytes, what: `${section.name || `section ${section.index}`} ${name}` }
  },
  btf(bytes, random, list) {
    const btf = list.find((s) => s.name === '.BTF')
    // The header's fields (magic, version, flags, hdr_len, type_off/len, str_off/len), then the types.
    const header = random.below(3) === 0
    const offset = header && btf !== undefined ? btf.offset + random.below(6) * 4 : wordIn(random, btf, bytes, 24)
    if (offset === undefined) return MUTATIONS.overwrite!(bytes, random, list, [])
    writeWord(bytes, offset, interesting(random), 4)
    return { bytes, what: `.BTF ${header ? 'header' : 'types'} word at ${offset - btf!.offset}` }
  },
  btfExt(bytes, random, list) {
    const ext = list.find((s) => s.name === '.BTF.ext')
    const header = random.below(3) === 0
    const offset = header && ext !== undefined ? ext.offset + random.below(8) * 4 : wordIn(random, ext, bytes, 32)
    if (offset === undefined) return MUTATIONS.btf!(bytes, random, list, [])
    writeWord(bytes, offset, interesting(random), 4)
    return { bytes, what: `.BTF.ext ${header ? 'header' : 'record'} word at ${offset - ext!.offset}` }
  },
  relocation(bytes, random, list) {
    const rels = list.filter((s) => s.type === SHT_REL && s.size >= 16)
    if (rels.length === 0) return MUTATIONS.overwrite!(bytes, random, list, [])
    const rel = random.pick(rels)
    const entry = rel.offset + random.below(Math.floor(rel.size / 16)) * 16
    const field = random.pick([['r_offset', 0, 8], ['r_type', 8, 4], ['r_sym', 12, 4]] as const)
    writeWord(bytes, entry + field[1], interesting(random), field[2])
    return { bytes, what: `${rel.name} ${field[0]}` }
  },
  symbol(bytes, random, list) {
    const symtab = list.find((s) => s.type === SHT_SYMTAB && s.size >= 24)
    if (symtab === undefined) return MUTATIONS.overwrite!(bytes, random, list, [])
    const entry = symtab.offset + random.below(Math.floor(symtab.size / 24)) * 24
    const field = random.pick([['st_name', 0, 4], ['st_info', 4, 1], ['st_shndx', 6, 2], ['st_value', 8, 8], ['st_size', 16, 8]] as const)
    writeWord(bytes, entry + field[1], interesting(random), field[2])
    return { bytes, what: `.symtab ${field[0]}` }
  },
  instruction(bytes, random, list) {
    const code = list.filter((s) => (s.flags & SHF_EXECINSTR) !== 0n && s.size >= 8 && s.type !== SHT_NOBITS)
    if (code.length === 0) return MUTATIONS.overwrite!(bytes, random, list, [])
    const section = random.pick(code)
    const insn = section.offset + random.below(Math.floor(section.size / 8)) * 8
    const field = random.pick([['code', 0, 1], ['regs', 1, 1], ['off', 2, 2], ['imm', 4, 4]] as const)
    writeWord(bytes, insn + field[1], interesting(random), field[2])
    return { bytes, what: `${section.name} insn ${(insn - section.offset) / 8} ${field[0]}` }
  },
  splice(bytes, random, list, donors) {
    const donor = random.pick(donors).bytes
    const theirs = sections(donor)
    const section = list.length > 0 ? random.pick(list) : undefined
    const match = section === undefined ? undefined : theirs.find((s) => s.name === section.name && s.type !== SHT_NOBITS)
    if (section !== undefined && match !== undefined && section.type !== SHT_NOBITS) {
      const length = Math.min(section.size, match.size, bytes.length - section.offset, donor.length - match.offset)
      if (length > 0) donor.copy(bytes, section.offset, match.offset, match.offset + length)
      return { bytes, what: `${section.name} from another object` }
    }
    const at = random.below(bytes.length)
    const from = random.below(donor.length)
    const length = Math.min(1 + random.below(256), bytes.length - at, donor.length - from)
    donor.copy(bytes, at, from, from + length)
    return { bytes, what: `${length} bytes from another object` }
  },
}

export const KINDS = Object.keys(MUTATIONS)

export interface Input {
  index: number
  /** The object it started from. */
  source: string
  /** The mutations applied, in order. */
  what: string[]
  bytes: Buffer
}

/** Input `index` of the run seeded with `seed`: a corpus object with one to three mutations. */
export function makeInput(objects: ReadonlyArray<{ name: string; bytes: Buffer }>, seed: number, index: number): Input {
  const random = new Random(seed, index)
  const source = objects[random.below(objects.length)]!
  let bytes: Buffer = Buffer.from(source.bytes)
  const what: string[] = []
  const count = 1 + random.below(3)
  for (let i = 0; i < count; i++) {
    const kind = KINDS[random.below(KINDS.length)]!
    const result = MUTATIONS[kind]!(bytes, random, sections(bytes), objects)
    bytes = result.bytes
    what.push(`${kind}: ${result.what}`)
  }
  return { index, source: source.name, what, bytes }
}
