// Daemon benchmark: `bpfkit serve examples/daemon/all.yaml` — its CPU use while idle (no scrape), and its
// resident memory across an hour of simulated scrapes (3,600 back to back, one a second in real life).
//   npm run bench:daemon [-- --json] [-- --idle-seconds N] [-- --scrapes N]        (as root)
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

const root = path.resolve(__dirname, '../..')

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}

/** User + system CPU time of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function rssMiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json')
  const idleSeconds = option('--idle-seconds', 60)
  const scrapes = option('--scrapes', 3600)
  const say = (line: string): void => {
    if (!json) process.stdout.write(`${line}\n`)
  }
  const child = spawn(process.execPath, [path.join(root, 'dist/cli/index.js'), 'serve', path.join(root, 'examples/daemon/all.yaml'),
    '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] })
  const pid = child.pid!
  const port = await new Promise<number>((resolve, reject) => {
    let log = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      const listening = /"port":(\d+),.*"msg":"listening"/.exec(log)
      if (listening) resolve(Number(listening[1]))
    })
    child.once('exit', () => reject(new Error(`the daemon exited:\n${log}`)))
  })
  while ((await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0)) !== 200) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  say(`bpfkit serve examples/daemon/all.yaml: pid ${pid}, port ${port}`)

  // Idle: programs attached, nothing scraping. The kernel runs the programs in the traced tasks'
  // context: that time is theirs, not the daemon's.
  const cpu0 = cpuSeconds(pid)
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000))
  const idlePercent = ((cpuSeconds(pid) - cpu0) / idleSeconds) * 100
  say(`idle CPU over ${idleSeconds} s: ${idlePercent.toFixed(3)} % of one core (target < 1 %)`)

  const rssStart = rssMiB(pid)
  const samples: Array<{ scrapes: number; rssMiB: number }> = [{ scrapes: 0, rssMiB: rssStart }]
  let bytes = 0
  const start = Date.now()
  for (let i = 1; i <= scrapes; i++) {
    bytes = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).length
    if (i % 600 === 0) samples.push({ scrapes: i, rssMiB: rssMiB(pid) })
  }
  const perScrapeMs = (Date.now() - start) / scrapes
  for (const s of samples) say(`RSS after ${String(s.scrapes).padStart(5)} scrapes: ${s.rssMiB.toFixed(1)} MiB`)
  say(`${scrapes} scrapes of ${(bytes / 1024).toFixed(0)} KiB in ${(perScrapeMs * scrapes / 1000).toFixed(1)} s (${perScrapeMs.toFixed(1)} ms each)`)
  child.kill('SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
  if (json) process.stdout.write(`${JSON.stringify({ idleSeconds, idlePercent, scrapes, perScrapeMs, rss: samples })}\n`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
