// The types a program defines but uses only through pointers (a ring buffer's `struct event *e`): clang
// leaves them out of BTF, so `bpfkit build` adds them, and `--type`/`{ type }` can name them.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Btf } from '../btf/btf'
import type { BtfKind } from '../btf/types'

/** The files of the program: the source and the headers it includes with quotes, found beside it. */
function ownFiles(source: string): string[] {
  const files: string[] = []
  const visit = (file: string): void => {
    if (files.includes(file) || !fs.existsSync(file)) return
    files.push(file)
    for (const [, name] of fs.readFileSync(file, 'utf8').matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      visit(path.resolve(path.dirname(file), name!))
    }
  }
  visit(path.resolve(source))
  return files
}

/** The structs, unions and enums the program's own files define, by kind and name. */
export function definedTypes(source: string): Array<{ kind: 'struct' | 'union' | 'enum'; name: string }> {
  const found = new Map<string, { kind: 'struct' | 'union' | 'enum'; name: string }>()
  for (const file of ownFiles(source)) {
    // Comments could hold `struct x {` too.
    const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
    for (const [, kind, name] of text.matchAll(/\b(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{/g)) {
      found.set(`${kind} ${name}`, { kind: kind as 'struct' | 'union' | 'enum', name: name! })
    }
  }
  return [...found.values()]
}

/**
 * Adds to `object`'s BTF the types of the program's own files that it lacks. `compile(source, output)`
 * compiles a C file as the object was; `replaceBtf(object, btfFile)` swaps its .BTF section. The types
 * are appended: the ids and strings the object has do not move, so its .BTF.ext stays right. Returns the
 * types added.
 */
export function addHeaderTypes(source: string, object: string, compile: (source: string, output: string) => void,
  replaceBtf: (object: string, btfFile: string) => void): string[] {
  const own = Btf.parse(object)
  const enumKinds: BtfKind[] = ['enum', 'enum64']
  const missing = definedTypes(source).filter(({ kind, name }) =>
    (kind === 'enum' ? enumKinds : [kind]).every((k) => own.find(name, k) === undefined))
  if (missing.length === 0) return []
  const stem = path.join(path.dirname(path.resolve(object)), `.bpfkit-types-${process.pid}`)
  try {
    // The program itself, plus a pointer to each missing type: now clang records them.
    fs.writeFileSync(`${stem}.c`, [`#include ${JSON.stringify(path.resolve(source))}`,
      ...missing.map(({ kind, name }, i) => `${kind} ${name} *__bpfkit_type_${i};`), ''].join('\n'))
    compile(`${stem}.c`, `${stem}.o`)
    const types = Btf.parse(`${stem}.o`)
    const ids = missing.map(({ kind, name }) => (types.find(name, kind) ?? (kind === 'enum' ? types.find(name, 'enum64') : undefined))!.id)
    own.copyTypes(types, ids)
    fs.writeFileSync(`${stem}.btf`, own.rawData())
    replaceBtf(object, `${stem}.btf`)
    return missing.map(({ kind, name }) => `${kind} ${name}`)
  } finally {
    for (const ext of ['.c', '.o', '.btf']) fs.rmSync(`${stem}${ext}`, { force: true })
  }
}
