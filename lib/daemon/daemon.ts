// Daemon: the programs of a `bpfkit serve` config — started, reloaded (unchanged programs stay
// attached, changed ones are swapped), scraped and stopped.

import { Counter, Gauge, Registry } from 'prom-client'
import { ConfigError, DAEMON_METRICS, readConfig, type ProgramEntry } from './config'
import { DaemonProgram, fingerprintOf, type ProgramStatus } from './program'
import type { Log } from './log'

export interface DaemonOptions {
  /** The config file. */
  config: string
  /** Where the metrics' maps are pinned, to carry their counts across restarts. */
  pinDir?: string
  log: Log
}

/** What a reload did, by program name. */
export interface ReloadReport {
  kept: string[]
  started: string[]
  swapped: string[]
  removed: string[]
  failed: string[]
}

export class Daemon {
  readonly #options: DaemonOptions
  readonly #programs = new Map<string, DaemonProgram>()
  /** The daemon's own metrics: programs up, reloads. */
  readonly registry = new Registry()
  readonly #reloads: Counter
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  private constructor(options: DaemonOptions) {
    this.#options = options
    const programs = this.#programs
    new Gauge({
      name: DAEMON_METRICS.up,
      help: 'Whether the program of the config is loaded and attached (1) or failed (0)',
      labelNames: ['program'],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [name, program] of programs) this.set({ program: name }, program.state === 'running' ? 1 : 0)
      },
    })
    this.#reloads = new Counter({
      name: DAEMON_METRICS.reloads, help: 'Config reloads (SIGHUP), by result', labelNames: ['result'], registers: [this.registry],
    })
  }

  /** Reads the config, then loads and attaches its programs. A config that does not fit is a ConfigError. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options)
    const prepared = daemon.#prepare(readConfig(options.config), () => false)
    for (const program of prepared) {
      await program.start(options.log, options.pinDir, undefined)
      daemon.#programs.set(program.name, program)
    }
    return daemon
  }

  /** Opens and configures the programs that are new or changed; on any ConfigError closes them again. */
  #prepare(entries: ProgramEntry[], unchanged: (entry: ProgramEntry) => boolean): DaemonProgram[] {
    const prepared: DaemonProgram[] = []
    try {
      for (const entry of entries) if (!unchanged(entry)) prepared.push(DaemonProgram.prepare(entry, this.#options.log))
    } catch (error) {
      for (const program of prepared) program.close()
      throw error
    }
    return prepared
  }

  /**
   * Reads the config again. Programs whose settings and object are unchanged stay attached with their
   * counts; changed ones are started next to the running version, which is closed once the new one is
   * attached (their maps carry over when the layout is the same); a program that fails to start leaves
   * its running version in place. A config that does not fit changes nothing and is logged.
   */
  reload(): Promise<ReloadReport | undefined> {
    const next = this.#queue.then(() => this.#reload())
    this.#queue = next.catch(() => undefined)
    return next
  }

  async #reload(): Promise<ReloadReport | undefined> {
    const { log, pinDir, config } = this.#options
    if (this.#closed) return undefined
    const report: ReloadReport = { kept: [], started: [], swapped: [], removed: [], failed: [] }
    let prepared: DaemonProgram[]
    let entries: ProgramEntry[]
    try {
      entries = readConfig(config)
      prepared = this.#prepare(entries, (entry) => {
        const running = this.#programs.get(entry.config.name)
        try {
          return running?.state === 'running' && running.fingerprint === fingerprintOf(entry)
        } catch {
          return false // an unreadable object: prepare() says why
        }
      })
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      this.#reloads.inc({ result: 'refused' })
      log.error({ reason: error.message }, 'config refused: the running programs stay as they were')
      return undefined
    }
    for (const program of prepared) {
      const previous = this.#programs.get(program.name)
      await program.start(log, pinDir, previous?.state === 'running' ? previous : undefined)
      if (program.state !== 'running' && previous?.state === 'running') {
        report.failed.push(program.name)
        program.close()
        log.warn({ program: program.name }, 'the new version failed: the running version stays attached')
        continue
      }
      this.#programs.set(program.name, program)
      previous?.close()
      if (program.state !== 'running') report.failed.push(program.name)
      else (previous === undefined ? report.started : report.swapped).push(program.name)
    }
    const names = new Set(entries.map((e) => e.config.name))
    for (const [name, program] of this.#programs) {
      if (names.has(name)) {
        if (!prepared.some((p) => p.name === name) && !report.failed.includes(name)) report.kept.push(name)
        continue
      }
      program.close()
      this.#programs.delete(name)
      report.removed.push(name)
    }
    this.#reloads.inc({ result: 'ok' })
    log.info(report, 'config reloaded')
    return report
  }

  /** Whether every program of the config is loaded and attached. */
  get healthy(): boolean {
    return [...this.#programs.values()].every((p) => p.state === 'running')
  }

  status(): ProgramStatus[] {
    return [...this.#programs.values()].map((p) => p.status())
  }

  /** The Prometheus text of the daemon's metrics and every running program's, read from the maps now. */
  async metrics(): Promise<string> {
    const registries = [this.registry, ...[...this.#programs.values()].filter((p) => p.state === 'running').map((p) => p.registry)]
    return Registry.merge(registries).metrics()
  }

  /** Detaches and closes every program. */
  async close(): Promise<void> {
    this.#closed = true
    await this.#queue
    for (const program of this.#programs.values()) program.close()
    this.#programs.clear()
  }
}
