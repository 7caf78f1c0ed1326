// forkcount: counts fork()s per parent pid and prints the top 10 every second until Ctrl-C.
//   npm run forkcount [-- --comm bash] [--interval 1000] [--count N]     (as root)
import { parseArgs } from 'node:util'
import { open } from './forkcount.skel'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      comm: { type: 'string' },
      interval: { type: 'string', default: '1000' },
      count: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log('usage: forkcount [--comm NAME] [--interval MS] [--count N]\n  --comm NAME  only count forks by processes named NAME')
    return
  }
  const interval = Number(values.interval)
  const rounds = values.count === undefined ? Infinity : Number(values.count)

  const skel = open()
  // The filter is a `const volatile` global: set before load, the verifier then sees it as a constant.
  if (values.comm !== undefined) skel.rodata.target_comm = values.comm
  const loaded = await skel.load()
  loaded.attach()
  const forks = loaded.maps.forks // BpfMap<number, ForkStats>, from the skeleton
  const obj = loaded.object

  let timer: NodeJS.Timeout | undefined
  const stop = (): void => {
    clearInterval(timer)
    obj.close()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  console.log(`Counting forks${values.comm === undefined ? '' : ` by '${values.comm}'`}… Ctrl-C to stop.`)
  let round = 0
  timer = setInterval(() => {
    const top = [...forks.entries()].sort(([, a], [, b]) => Number(b.forks - a.forks)).slice(0, 10)
    console.log(`\n${new Date().toLocaleTimeString()}  ${loaded.bss.total_forks} forks in total`)
    console.log(`${'PPID'.padStart(8)}  ${'COMM'.padEnd(16)}  FORKS`)
    for (const [ppid, stats] of top) console.log(`${String(ppid).padStart(8)}  ${stats.comm.padEnd(16)}  ${stats.forks}`)
    if (++round >= rounds) stop()
  }, interval)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
