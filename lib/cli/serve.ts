// `bpfkit serve <config>`: keeps a config's programs attached and serves their maps as Prometheus
// metrics (lib/daemon/), until SIGTERM or SIGINT; SIGHUP reloads the config.

import type { Server } from 'node:http'
import * as path from 'node:path'
import type { Command } from 'commander'
import { dropCapabilities, type Capability } from '../index'
import { checkBpffs } from '../object'
import type { Daemon } from '../daemon/daemon'
import type { DaemonLogLevel } from '../daemon/log'
import { fail } from './fail'

/** What the daemon still needs once attached: CAP_BPF to read maps, both to load programs on reload. */
export const KEPT_CAPABILITIES: readonly Capability[] = ['CAP_BPF', 'CAP_PERFMON']

interface ServeFlags {
  listen: string
  pinDir?: string
  dropCaps?: boolean
  logLevel: string
}

async function serve(config: string, flags: ServeFlags): Promise<void> {
  // Loaded here, not with the CLI: the other commands need neither pino, prom-client, zod nor yaml.
  const [{ ConfigError }, { Daemon }, { listen, parseListen }, { createLog, LOG_LEVELS, routeLibbpf }] = await Promise.all([
    import('../daemon/config'), import('../daemon/daemon'), import('../daemon/http'), import('../daemon/log')])
  const address = parseListen(flags.listen)
  if (address === undefined) fail('serve', `--listen takes HOST:PORT (e.g. 127.0.0.1:9437), got ${flags.listen}`)
  if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) fail('serve', `--log-level is one of ${LOG_LEVELS.join(', ')}`)
  if (flags.pinDir !== undefined) {
    try {
      checkBpffs('serve', '--pin-dir', path.resolve(flags.pinDir))
    } catch (error) {
      fail('serve', error)
    }
  }
  const level = flags.logLevel as DaemonLogLevel
  const log = createLog(level)
  routeLibbpf(log, level)
  // From the start, so that a signal during loading neither kills the process unannounced (SIGHUP's
  // default) nor is lost: until the daemon runs, SIGTERM and SIGINT exit at once (the kernel releases
  // what is half made), and SIGHUP is answered once it runs.
  let stop: ((signal: string) => void) | undefined
  let reloadWanted = false
  process.on('SIGHUP', () => {
    reloadWanted = true
    if (stop !== undefined) reload()
  })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stop !== undefined) return stop(signal)
      log.info({ signal }, 'stopped while starting')
      process.exit(0)
    })
  }
  // A closed stdout (`bpfkit serve … | head`) fails event sinks' writes: logged, not fatal.
  process.stdout.on('error', (error) => log.warn({ error: error.message }, 'stdout failed: events written there are lost'))

  let daemon: Daemon
  try {
    daemon = await Daemon.start({ config, pinDir: flags.pinDir, log })
  } catch (error) {
    if (error instanceof ConfigError) fail('serve', error.message)
    throw error
  }
  let server: Server
  try {
    server = await listen(daemon, address.host, address.port, log)
  } catch (error) {
    await daemon.close()
    fail('serve', `cannot listen on ${flags.listen}: ${(error as Error).message}`)
  }
  if (flags.dropCaps) {
    try {
      const kept = dropCapabilities(KEPT_CAPABILITIES)
      log.info({ effective: kept.effective, permitted: kept.permitted, bounding: kept.bounding, threads: kept.threads,
        unreachable: kept.unreachable }, 'capabilities dropped')
    } catch (error) {
      log.fatal({ error: (error as Error).message }, 'could not drop capabilities')
      server.close()
      await daemon.close()
      process.exit(1)
    }
  }
  log.info({ healthy: daemon.healthy }, 'serving')

  const reload = (): void => {
    reloadWanted = false
    log.info('SIGHUP: reloading the config')
    daemon.reload().catch((error: Error) => log.error({ error: error.message }, 'reload failed'))
  }
  let stopping = false
  stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    server.close()
    server.closeAllConnections()
    daemon.close().then(() => {
      log.info('stopped: every program detached')
      process.exit(0)
    }, (error: Error) => {
      log.error({ error: error.message }, 'stopping failed')
      process.exit(1)
    })
  }
  if (reloadWanted) reload()
}

export function addServeCommand(program: Command): void {
  program
    .command('serve')
    .description('keep the programs of a YAML config attached and serve their maps as Prometheus metrics (/metrics, /healthz, /)')
    .argument('<config>', 'the YAML config (see examples/daemon/)')
    .option('--listen <host:port>', 'where to serve; port 0 picks a free one', '127.0.0.1:9437')
    .option('--pin-dir <dir>', 'pin the metrics maps under this bpffs directory and reuse them on the next start')
    .option('--drop-caps', `once attached, keep only ${KEPT_CAPABILITIES.join(' and ')}`)
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action((config: string, flags: ServeFlags) => serve(config, flags).catch((error) => fail('serve', error)))
}
