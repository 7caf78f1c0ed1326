// The daemon's HTTP server: /metrics (Prometheus text), /healthz and the status page at /.

import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import type { Daemon } from './daemon'
import type { Log } from './log'
import { statusPage } from './page'

/** `HOST:PORT` or `[IPV6]:PORT`; port 0 picks a free one. */
export function parseListen(listen: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen)
  const port = Number(match?.[3])
  if (match === null || port > 65535) return undefined
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port }
}

export async function listen(daemon: Daemon, host: string, port: number, log: Log): Promise<http.Server> {
  const startedAt = new Date()
  const route = (request: http.IncomingMessage, reply: (status: number, type: string, body: string) => void): void => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'text/plain', 'GET only\n')
    let url: URL
    try {
      url = new URL(request.url ?? '/', 'http://localhost')
    } catch {
      return reply(400, 'text/plain', 'bad request: the path is not a URL\n')
    }
    switch (url.pathname) {
      case '/metrics':
        daemon.metrics().then(
          (text) => reply(200, Registry.PROMETHEUS_CONTENT_TYPE, text),
          (error: Error) => {
            log.error({ error: error.message }, 'scrape failed')
            reply(500, 'text/plain', `${error.message}\n`)
          })
        return
      case '/healthz': {
        if (daemon.healthy) return reply(200, 'text/plain', 'ok\n')
        const failing = daemon.status().filter((p) => p.state !== 'running').map((p) => `${p.name}: ${p.state}${p.error ? ` (${p.error})` : ''}`)
        return reply(503, 'text/plain', `${failing.join('\n')}\n`)
      }
      case '/':
        return reply(200, 'text/html; charset=utf-8', statusPage(daemon.status(), startedAt))
      default:
        return reply(404, 'text/plain', 'not found: try /metrics, /healthz or /\n')
    }
  }
  const server = http.createServer((request, response) => {
    const reply = (status: number, type: string, body: string): void => {
      response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
      response.end(request.method === 'HEAD' ? undefined : body)
    }
    try {
      route(request, reply)
    } catch (error) {
      // Nothing a client sends may end the daemon.
      log.error({ error: (error as Error).message, url: request.url }, 'request failed')
      if (!response.headersSent) reply(500, 'text/plain', 'internal error\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  log.info({ address: address.address, port: address.port, url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics` }, 'listening')
  return server
}
