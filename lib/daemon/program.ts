// One program of a `bpfkit serve` config: its object opened and configured, its metrics and event
// sinks, then loaded and attached; and what the status page shows of it.

import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Registry } from 'prom-client'
import { BpfError, BpfMap, BpfObject, type Link } from '../index'
import { MapCounter, MapGauge, MapHistogram, MetricOptionError, type MapMetric } from '../metrics/index'
import { entryError, type ProgramEntry } from './config'
import { libbpfLogger, type Log } from './log'
import { EventSink } from './sink'

export type ProgramState = 'prepared' | 'running' | 'failed' | 'closed'

/** What the status page and /healthz show of a program. */
export interface ProgramStatus {
  name: string
  object: string
  state: ProgramState
  error?: string
  startedAt?: string
  programs: Array<{ name: string; section: string; target?: string; runCount?: string; runTimeNs?: string }>
  maps: Array<{ name: string; type: string; entries: number; maxEntries: number; pinned?: string }>
  events: Array<{ map: string; output: string; events: number; dropped?: number }>
}

/**
 * Equal for two entries whose program would be the same: its settings and its object's bytes. A reload
 * leaves a running program alone while this stays the same.
 */
export function fingerprintOf(entry: ProgramEntry, bytes: Uint8Array = fs.readFileSync(entry.object)): string {
  return createHash('sha256').update(JSON.stringify(entry.config)).update(bytes).digest('hex')
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error)
}

export class DaemonProgram {
  readonly name: string
  /** See fingerprintOf(). */
  readonly fingerprint: string
  /** The program's metrics, scraped with the daemon's own. */
  readonly registry = new Registry()
  readonly object: BpfObject
  state: ProgramState = 'prepared'
  error: string | undefined
  #links: Link[] = []
  #sinks: EventSink[] = []
  #startedAt: Date | undefined
  readonly #metrics: MapMetric[] = []
  readonly #metricMaps = new Set<string>()
  /** Where each metric map is pinned, by name, once running (with --pin-dir). */
  readonly #pins = new Map<string, string>()

  private constructor(readonly entry: ProgramEntry, object: BpfObject, fingerprint: string) {
    this.name = entry.config.name
    this.object = object
    this.fingerprint = fingerprint
  }

  /**
   * Opens the object and applies the config to it: `.rodata`, the programs to attach, the metrics and
   * the sinks' maps. Nothing reaches the kernel; a setting that does not fit the object is a ConfigError.
   */
  static prepare(entry: ProgramEntry, log: Log): DaemonProgram {
    const { config } = entry
    let bytes: Buffer
    try {
      bytes = fs.readFileSync(entry.object)
    } catch (error) {
      throw entryError(entry, ['object'], `cannot read ${entry.object}: ${(error as NodeJS.ErrnoException).code ?? reasonOf(error)}`)
    }
    let object: BpfObject
    try {
      object = BpfObject.open(bytes, {
        objectName: path.basename(entry.object).replace(/\.bpf\.o$|\.o$/, ''),
        logger: libbpfLogger(log, { program: config.name }),
      })
    } catch (error) {
      throw entryError(entry, ['object'], `${entry.object}: ${reasonOf(error)}`)
    }
    const program = new DaemonProgram(entry, object, fingerprintOf(entry, bytes))
    try {
      program.#configure()
    } catch (error) {
      object.close()
      throw error
    }
    return program
  }

  #configure(): void {
    const { config } = this.entry
    const object = this.object
    for (const [name, value] of Object.entries(config.rodata ?? {})) {
      try {
        object.rodata[name] = value
      } catch (error) {
        // The path is the entry's already: `.rodata.port: expected…` says only `expected…`.
        const reason = reasonOf(error)
        const prefix = [`.rodata.${name}: `, '.rodata: '].find((p) => reason.startsWith(p))
        throw entryError(this.entry, ['rodata', name], prefix === undefined ? reason : reason.slice(prefix.length))
      }
    }
    if (config.attach !== undefined) {
      const names = object.programs.map((p) => p.name)
      config.attach.forEach((name, i) => {
        if (!names.includes(name)) throw entryError(this.entry, ['attach', i], `no program '${name}' in ${path.basename(this.entry.object)} (programs: ${names.join(', ')})`)
      })
      for (const p of object.programs) p.autoload = config.attach.includes(p.name)
    }
    const kinds = [['counters', MapCounter], ['gauges', MapGauge], ['histograms', MapHistogram]] as const
    for (const [kind, Metric] of kinds) {
      for (const [i, settings] of (config.metrics?.[kind] ?? []).entries()) {
        const at = ['metrics', kind, i]
        const map = this.#map(settings.map, [...at, 'map'], (m) => m.type !== 'ringbuf' && m.type !== 'perf_event_array', 'maps')
        try {
          this.#metrics.push(new Metric({ ...settings, map, registers: [this.registry] } as never))
        } catch (error) {
          if (error instanceof MetricOptionError) throw entryError(this.entry, [...at, ...error.path], error.reason)
          throw entryError(this.entry, at, reasonOf(error))
        }
        this.#metricMaps.add(settings.map)
      }
    }
    for (const [i, sink] of (config.events ?? []).entries()) {
      this.#map(sink.map, ['events', i, 'map'], (m) => m.type === 'ringbuf', 'ring buffers')
    }
  }

  /** The object's map `name`, of a kind `fits` accepts (`kind` names them); else a ConfigError naming those there are. */
  #map(name: string, at: (string | number)[], fits: (map: BpfMap) => boolean, kind: string): BpfMap {
    const candidates = this.object.maps.filter((m) => !m.isInternal && fits(m))
    const map = candidates.find((m) => m.name === name)
    if (map !== undefined) return map
    const other = this.object.maps.find((m) => m.name === name)
    const object = path.basename(this.entry.object)
    const available = `(${kind}: ${candidates.map((m) => m.name).join(', ') || 'none'})`
    throw entryError(this.entry, at, other === undefined
      ? `no map '${name}' in ${object} ${available}`
      : `map '${name}' of ${object} is a ${other.type} map ${available}`)
  }

  /**
   * Loads and attaches. The metrics' maps carry on from before: with `pinDir`, the maps pinned there
   * (a map whose layout changed is recreated, and logged); else, on a reload, `previous`'s maps.
   */
  async start(log: Log, pinDir: string | undefined, previous: DaemonProgram | undefined): Promise<void> {
    const fields = { program: this.name }
    // Maps to pin once this version runs: a pin is what the next start carries on from, so one that
    // fails (or one that will not attach) leaves the pins as they were, the running version's included.
    const toPin: Array<[BpfMap, string]> = []
    try {
      for (const name of this.#metricMaps) {
        const map = this.object.map(name)
        if (pinDir !== undefined) {
          const pin = path.join(pinDir, this.name, name)
          fs.mkdirSync(path.dirname(pin), { recursive: true })
          const differences = fs.existsSync(pin) ? differencesFrom(map, pin) : undefined
          if (differences?.length === 0) {
            log.info({ ...fields, map: name, pin }, 'reusing pinned map')
            map.pinPath = pin
            this.#pins.set(name, pin)
            continue
          }
          if (differences !== undefined) log.warn({ ...fields, map: name, pin, differences }, 'pinned map no longer matches: a new one replaces it once this version runs')
          // Not where libbpf would pin a map declared with `pinning` (/sys/fs/bpf/NAME): only at `pin`.
          map.pinPath = null
          toPin.push([map, pin])
        } else if (previous?.object.state === 'loaded') {
          const old = previous.object.maps.find((m) => m.name === name)
          if (old !== undefined && map.differences(old).length === 0) map.reuse(old)
          else log.info({ ...fields, map: name }, 'map layout changed: its counts start again')
        }
      }
      await this.object.load()
      const attached = this.object.attach()
      this.#links = [...attached]
      const unattached = attached.skipped.filter((s) => s.reason !== 'autoload is off')
      if (unattached.length > 0) {
        throw new BpfError(`not attached: ${unattached.map((s) => `${s.program} (${s.reason})`).join(', ')}`, { code: 'EINVAL', op: 'attach' })
      }
      for (const sink of this.entry.config.events ?? []) {
        const output = sink.output === 'stdout' ? 'stdout' : path.resolve(path.dirname(this.entry.source.file), sink.output)
        this.#sinks.push(new EventSink(this.object, sink.map, { ...sink, output, fields: { program: this.name, map: sink.map } }))
      }
      pinAll(toPin)
      for (const [map, pin] of toPin) this.#pins.set(map.name, pin)
      this.state = 'running'
      this.#startedAt = new Date()
      log.info({ ...fields, attached: attached.report() }, 'program attached')
    } catch (error) {
      this.state = 'failed'
      this.error = reasonOf(error)
      this.#release()
      log.error({ ...fields, error: this.error }, 'program failed to start')
    }
  }

  #release(): void {
    for (const sink of this.#sinks) sink.close()
    this.#sinks = []
    for (const metric of this.#metrics) metric.unregister()
    this.object.close()
    this.#links = []
  }

  /** Detaches and closes everything (maps pinned in the pin directory stay). */
  close(): void {
    if (this.state === 'closed') return
    this.#release()
    this.state = 'closed'
  }

  status(): ProgramStatus {
    const running = this.state === 'running'
    const links = new Map(this.#links.map((l) => [l.program, l.target]))
    return {
      name: this.name,
      object: this.entry.object,
      state: this.state,
      error: this.error,
      startedAt: this.#startedAt?.toISOString(),
      programs: running
        ? this.object.programs.filter((p) => p.autoload).map((p) => {
          const stats = p.stats()
          return {
            name: p.name, section: p.section, target: links.get(p.name),
            ...(stats.enabled ? { runCount: String(stats.runCount), runTimeNs: String(stats.runTimeNs) } : {}),
          }
        })
        : [],
      maps: running
        ? this.object.maps.filter((m) => !m.isInternal && m.type !== 'ringbuf').map((m) => {
          const pinned = this.#pins.get(m.name) ?? m.pinPath
          return { name: m.name, type: m.type, entries: m.count(), maxEntries: m.maxEntries, ...(pinned ? { pinned } : {}) }
        })
        : [],
      events: this.#sinks.map((sink) => {
        const stats = sink.reader.stats()
        return { map: sink.reader.maps[0]!, output: this.entry.config.events?.find((e) => e.map === sink.reader.maps[0])?.output ?? '',
          events: stats.events, ...(stats.dropped === undefined ? {} : { dropped: stats.dropped }) }
      }),
    }
  }
}

/** How `map` differs from the map pinned at `pin` (see BpfMap.differences). */
function differencesFrom(map: BpfMap, pin: string): string[] {
  const pinned = BpfMap.openPinned(pin)
  try {
    return map.differences(pinned)
  } finally {
    pinned.close()
  }
}

/**
 * Pins each map at its path, replacing what is there, all or none: each is pinned beside its path
 * first, then renamed over it (bpffs renames atomically), so a pin that fails leaves every old one.
 */
function pinAll(pins: ReadonlyArray<[BpfMap, string]>): void {
  const staged: string[] = []
  try {
    for (const [map, pin] of pins) {
      const next = `${pin}-next-${process.pid}` // bpffs refuses names with a dot
      fs.rmSync(next, { force: true })
      map.pin(next)
      staged.push(next)
    }
  } catch (error) {
    for (const next of staged) fs.rmSync(next, { force: true })
    throw error
  }
  pins.forEach(([, pin], i) => fs.renameSync(staged[i]!, pin))
}
