// The daemon's status page (`/`): programs, where they are attached, maps, event sinks, run statistics.

import type { ProgramStatus } from './program'

function escape(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function table(head: string[], rows: unknown[][]): string {
  if (rows.length === 0) return ''
  return `<table><tr>${head.map((h) => `<th>${escape(h)}</th>`).join('')}</tr>${rows.map((row) =>
    `<tr>${row.map((cell) => `<td>${escape(cell ?? '')}</td>`).join('')}</tr>`).join('')}</table>`
}

/** Events per second since the program started. */
function rate(events: number, startedAt: string | undefined, now: number): string {
  if (startedAt === undefined) return ''
  const seconds = (now - Date.parse(startedAt)) / 1000
  return seconds > 0 ? (events / seconds).toFixed(2) : ''
}

export function statusPage(programs: readonly ProgramStatus[], startedAt: Date, now = Date.now()): string {
  const sections = programs.map((p) => {
    const state = p.state === 'running' ? 'running' : `${p.state}${p.error ? `: ${p.error}` : ''}`
    return `<section><h2>${escape(p.name)} <small class="${p.state}">${escape(state)}</small></h2>
<p>${escape(p.object)}${p.startedAt ? ` — since ${escape(p.startedAt)}` : ''}</p>
${table(['program', 'section', 'attached to', 'runs', 'run time (ns)'], p.programs.map((x) => [x.name, x.section, x.target, x.runCount ?? 'bpf_stats off', x.runTimeNs ?? '']))}
${table(['map', 'type', 'entries', 'max entries', 'pinned at'], p.maps.map((m) => [m.name, m.type, m.entries, m.maxEntries, m.pinned]))}
${table(['events of', 'to', 'events', 'per second', 'dropped'], p.events.map((e) => [e.map, e.output, e.events, rate(e.events, p.startedAt, now), e.dropped]))}
</section>`
  })
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>bpfkit serve</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}.failed{color:#b00}.running{color:#070}</style>
</head><body><h1>bpfkit serve</h1>
<p>up since ${escape(startedAt.toISOString())} · <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a> · run counts need <code>sysctl kernel.bpf_stats_enabled=1</code></p>
${sections.join('\n')}
</body></html>
`
}
