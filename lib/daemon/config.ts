// The `bpfkit serve` config: YAML files (with includes), checked by schema; every error names the file,
// line and field.

import * as fs from 'node:fs'
import * as path from 'node:path'
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml'
import { z } from 'zod'
import { counterShape, firstIssue, formatPath, histogramShape, strict } from '../metrics/options'

const name = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a name has letters, digits, _ . and - only')

const metric = { map: z.string() }

const sinkSchema = strict({
  /** The ring buffer map whose events to write. */
  map: z.string(),
  /** The BTF struct of the events, when the map does not declare it (BPFKIT_RINGBUF does). */
  type: z.string().optional(),
  /** `stdout`, or a file (relative to the config file) written as NDJSON. */
  output: z.string(),
  /** A file is rotated (file → file.1 → … → file.<keep>) once it reaches this many bytes. */
  maxBytes: z.number().int().min(1024).optional(),
  keep: z.number().int().min(0).max(100).optional(),
  /** Longest an event waits to be written (default 1000): events are drained in batches. */
  maxLatencyMs: z.number().int().min(1).max(60_000).optional(),
})

const programSchema = strict({
  name,
  /** The compiled object (`.bpf.o`), relative to the config file. */
  object: z.string(),
  /** `.rodata` settings (`const volatile` globals), set before load. */
  rodata: z.record(z.string(), z.unknown()).optional(),
  /** The programs (C function names) to load and attach where their SEC() says; default every one. */
  attach: z.array(z.string()).min(1).optional(),
  metrics: strict({
    counters: z.array(strict({ ...counterShape, ...metric })).optional(),
    gauges: z.array(strict({ ...counterShape, ...metric })).optional(),
    histograms: z.array(strict({ ...histogramShape, ...metric })).optional(),
  }).optional(),
  events: z.array(sinkSchema).optional(),
})

const fileSchema = strict({
  /** Other config files (relative to this one) whose programs join this one's. */
  include: z.array(z.string()).optional(),
  programs: z.array(programSchema).optional(),
})

export type ProgramConfig = z.infer<typeof programSchema>
export type SinkConfig = z.infer<typeof sinkSchema>
export type MetricKind = 'counters' | 'gauges' | 'histograms'

/** Where a setting came from, to point errors at it. */
export interface Source {
  file: string
  /** Line of a path in the file (1-based), the closest existing node's when the path is missing. */
  line(path: readonly (string | number)[]): number
}

/** A program of the config, with its object resolved to an absolute path and where it was written. */
export interface ProgramEntry {
  config: ProgramConfig
  /** The object's absolute path. */
  object: string
  source: Source
  /** The program's path inside its file (`['programs', 2]`). */
  at: readonly (string | number)[]
}

/** A config that cannot be used: one line, `file:line: field: reason` (no line when the file cannot be read). */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly line: number, readonly field: string, reason: string) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${field ? `${field}: ` : ''}${reason}`)
    this.name = 'ConfigError'
  }
}

function start(node: unknown): number | undefined {
  return (node as { range?: [number] } | null | undefined)?.range?.[0]
}

function sourceOf(file: string, doc: Document, counter: LineCounter): Source {
  return {
    file,
    line(at) {
      // The deepest node the path reaches: a map entry's key, a sequence's item.
      let node: unknown = doc.contents
      let offset = start(node) ?? 0
      for (const segment of at) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
          if (pair === undefined) break
          offset = start(pair.key) ?? offset
          node = pair.value
        } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
          node = node.items[segment]
          offset = start(node) ?? offset
        } else {
          break
        }
      }
      return counter.linePos(offset).line
    },
  }
}

/** The first schema problem, as a ConfigError pointing at its line. */
function schemaError(source: Source, error: z.ZodError): ConfigError {
  const { path: where, message } = firstIssue(error)
  // An unknown field is reported on the object that has it, at the field's line.
  const field = message.startsWith('unknown field') ? where.slice(0, -1) : where
  return new ConfigError(source.file, source.line(where), formatPath(field), message)
}

/** Reads a config file and the files it includes: every program, in order. */
function loadConfig(file: string, seen: ReadonlySet<string> = new Set()): ProgramEntry[] {
  const absolute = path.resolve(file)
  let text: string
  try {
    text = fs.readFileSync(absolute, 'utf8')
  } catch (error) {
    throw new ConfigError(file, 0, '', `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true })
  const source = sourceOf(file, doc, counter)
  const syntax = doc.errors[0]
  if (syntax !== undefined) {
    const line = syntax.linePos?.[0].line ?? counter.linePos(syntax.pos[0]).line
    throw new ConfigError(file, line, '', `YAML: ${syntax.message.split('\n')[0]}`)
  }
  const parsed = fileSchema.safeParse(doc.toJS() ?? {})
  if (!parsed.success) throw schemaError(source, parsed.error)
  const entries: ProgramEntry[] = []
  const dir = path.dirname(absolute)
  for (const [i, include] of (parsed.data.include ?? []).entries()) {
    const target = path.resolve(dir, include)
    if (seen.has(target) || target === absolute) {
      throw new ConfigError(file, source.line(['include', i]), `include[${i}]`, `${include} includes itself`)
    }
    // A file that cannot be read is reported where it is included.
    if (!fs.existsSync(target)) throw new ConfigError(file, source.line(['include', i]), `include[${i}]`, `cannot read ${include}: ENOENT`)
    entries.push(...loadConfig(path.relative(process.cwd(), target) || target, new Set([...seen, absolute])))
  }
  for (const [i, program] of (parsed.data.programs ?? []).entries()) {
    entries.push({ config: program, object: path.resolve(dir, program.object), source, at: ['programs', i] })
  }
  return entries
}

/** The daemon's own metrics (lib/daemon/daemon.ts), whose names no program's metric may take. */
export const DAEMON_METRICS = { up: 'bpfkit_program_up', reloads: 'bpfkit_config_reloads_total' } as const

/** Loads a config and checks what needs no object: at least one program, names and metric names unique. */
export function readConfig(file: string): ProgramEntry[] {
  const entries = loadConfig(file)
  if (entries.length === 0) throw new ConfigError(file, 1, 'programs', 'the config lists no program')
  const names = new Map<string, ProgramEntry>()
  const metrics = new Map<string, string>(Object.values(DAEMON_METRICS).map((name) => [name, '']))
  for (const entry of entries) {
    const { config, source, at } = entry
    const other = names.get(config.name)
    if (other !== undefined) {
      throw new ConfigError(source.file, source.line([...at, 'name']), `${formatPath(at)}.name`,
        `program '${config.name}' is already defined at ${other.source.file}:${other.source.line([...other.at, 'name'])}`)
    }
    names.set(config.name, entry)
    for (const kind of ['counters', 'gauges', 'histograms'] as const) {
      for (const [i, m] of (config.metrics?.[kind] ?? []).entries()) {
        const where = [...at, 'metrics', kind, i, 'name']
        const full = kind === 'histograms' && 'unit' in m && m.unit !== undefined && !m.name.endsWith(`_${m.unit}`) ? `${m.name}_${m.unit}` : m.name
        const first = metrics.get(full)
        if (first !== undefined) {
          throw new ConfigError(source.file, source.line(where), formatPath(where),
            `metric '${full}' is already defined by ${first === '' ? 'bpfkit serve itself' : `program '${first}'`}`)
        }
        metrics.set(full, config.name)
      }
    }
  }
  return entries
}

/** A ConfigError for `path` inside a program entry. */
export function entryError(entry: ProgramEntry, at: readonly (string | number)[], reason: string): ConfigError {
  const where = [...entry.at, ...at]
  return new ConfigError(entry.source.file, entry.source.line(where), formatPath(where), reason)
}
