#!/usr/bin/env node
// Runs the test suite on other kernels: Debian's generic 6.1 (bookworm) and 6.12 (bookworm-security)
// under qemu's emulation (no KVM needed), each booted with a busybox initramfs that mounts this machine's
// root read-only over 9p (scripts/kernels/init). Kernel packages and initramfs are cached by version.
//   npm run test:kernels [-- --kernel 6.1|6.12|all] [--full] [--jobs N] [--verbose] [test files…]
// Without --full or files it runs the CI subset; --full runs the whole suite (nightly). One line per
// kernel says what passed, failed and was skipped (with the reason) and how long it took; a guest that
// fails shows the end of its console, and one that ends before its tests begin boots again. The guests
// run a copy of the tree taken at the start (sources, dist/ and the built addon), so building, packing
// or testing here meanwhile changes nothing they see.
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cache = path.join(process.env.BPFKIT_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'bpfkit'), 'kernels')

// The kernels: a pinned package of each family, and the family's pattern for when the archive has
// moved on from the pin.
const KERNELS = {
  '6.1': { pin: 'linux-image-6.1.0-57-amd64', family: /^linux-image-6\.1\.0-(\d+)-amd64$/ },
  '6.12': { pin: 'linux-image-6.12.117+deb12-amd64', family: /^linux-image-6\.12\.(\d+)\+deb12-amd64$/ },
}

// What CI runs on each kernel: attach, maps, ring and perf buffers, errors, globals, BTF and codecs,
// and what the development VM cannot run: iterators over a map's elements, freplace and fexit on BPF
// functions. --full (nightly) adds the rest, such as lifecycle.test.ts (the subset's longest file, at a
// fifth of its time; what it proves of closing and exiting depends little on the kernel) and the
// every-kernel-struct codec test in btf-vmlinux.test.ts.
const SUBSET = ['attach', 'tracing', 'iterators', 'link-update', 'maps', 'ring-buffer', 'perf-buffer', 'errors', 'globals', 'btf', 'codec']
  .map((name) => `test/${name}.test.ts`)

// Emulation (TCG) runs code some 10-30 times slower than this machine: the tests' one scale factor.
const SCALE = Number(process.env.BPFKIT_TEST_SCALE) || 20
const GUEST_MB = 4096
// A guest that ends by itself before its tests begin boots again, this many times; of a failing one,
// this many console lines are printed.
const BOOT_RETRIES = 2
const TAIL_LINES = 40

function usage(message) {
  if (message) process.stderr.write(`test:kernels: ${message}\n`)
  process.stderr.write('usage: npm run test:kernels [-- --kernel 6.1|6.12|all] [--full] [--jobs N] [--verbose] [test files…]\n')
  process.exit(2)
}

function parseArgs(argv) {
  const options = { kernels: Object.keys(KERNELS), full: false, jobs: 2, verbose: false, files: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--kernel') {
      const value = argv[++i]
      if (value === 'all') options.kernels = Object.keys(KERNELS)
      else if (Object.hasOwn(KERNELS, value)) options.kernels = [value]
      else usage(`unknown kernel '${value}' (${Object.keys(KERNELS).join(', ')} or all)`)
    } else if (arg === '--full') options.full = true
    else if (arg === '--verbose') options.verbose = true
    else if (arg === '--jobs') options.jobs = Number(argv[++i]) || usage('--jobs takes a number')
    else if (arg === '--help' || arg === '-h') usage()
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`)
    else options.files.push(arg)
  }
  return options
}

function run(command, args, options = {}) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options })
}

function log(message) {
  process.stderr.write(`test:kernels: ${message}\n`)
}

/** The package to boot for a family: the pin, or the newest of the family when the archive lacks it. */
function resolvePackage(name) {
  const { pin, family } = KERNELS[name]
  const available = () => run('apt-cache', ['pkgnames', 'linux-image-']).split('\n').filter((p) => family.test(p))
  let names = available()
  if (names.length === 0) {
    log('updating the package lists (apt-get update)')
    run('apt-get', ['update', '-qq'])
    names = available()
  }
  if (names.includes(pin)) return pin
  const newest = names.sort((a, b) => Number(family.exec(b)[1]) - Number(family.exec(a)[1]))[0]
  if (newest === undefined) throw new Error(`no ${name} kernel package in the package lists (pinned: ${pin})`)
  log(`${pin} is no longer in the archive: using ${newest} (update the pin in scripts/test-kernels.mjs)`)
  return newest
}

/** Downloads and unpacks a kernel package once: its vmlinuz and modules (depmod'ed) under the cache. */
function ensureKernel(name) {
  const cached = fs.existsSync(cache) ? fs.readdirSync(cache).filter((d) => KERNELS[name].family.test(d)) : []
  const pinned = KERNELS[name].pin
  let pkg = cached.includes(pinned) ? pinned : undefined
  if (pkg === undefined) {
    try {
      pkg = resolvePackage(name)
    } catch (error) {
      // Offline: any version of the family already here will do.
      if (cached.length === 0) throw error
      pkg = cached.sort().at(-1)
    }
  }
  const dir = path.join(cache, pkg)
  if (fs.existsSync(path.join(dir, 'vmlinuz'))) return dir
  log(`downloading and unpacking ${pkg}`)
  const work = fs.mkdtempSync(path.join(cache, '.download-'))
  try {
    run('apt-get', ['download', pkg], { cwd: work })
    const deb = fs.readdirSync(work).find((f) => f.endsWith('.deb'))
    run('dpkg', ['-x', deb, 'root'], { cwd: work })
    const release = fs.readdirSync(path.join(work, 'root/lib/modules'))[0]
    fs.mkdirSync(path.join(work, 'kernel/lib/modules'), { recursive: true })
    fs.renameSync(path.join(work, `root/boot/vmlinuz-${release}`), path.join(work, 'kernel/vmlinuz'))
    fs.renameSync(path.join(work, 'root/lib/modules', release), path.join(work, 'kernel/lib/modules', release))
    run('depmod', ['-b', path.join(work, 'kernel'), release])
    fs.writeFileSync(path.join(work, 'kernel/release'), release)
    fs.renameSync(path.join(work, 'kernel'), dir)
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
  return dir
}

/** The initramfs for a kernel: busybox, the init script and the modules it loads; cached by their hash. */
function ensureInitramfs(dir) {
  const release = fs.readFileSync(path.join(dir, 'release'), 'utf8').trim()
  const init = fs.readFileSync(path.join(root, 'scripts/kernels/init'))
  const busybox = '/bin/busybox'
  if (!fs.existsSync(busybox)) throw new Error('/bin/busybox is missing (Debian: apt-get install busybox-static)')
  const modules = []
  for (const module of ['virtio_pci', '9pnet_virtio', '9p', 'overlay']) {
    for (const line of run('modprobe', ['-d', dir, '-S', release, '--show-depends', module]).split('\n')) {
      const file = /^insmod (\S+)/.exec(line)?.[1]
      if (file !== undefined && !modules.includes(file)) modules.push(file)
    }
  }
  const hash = createHash('sha256').update(init).update(modules.join('\n')).update(fs.readFileSync(busybox)).digest('hex').slice(0, 12)
  const initramfs = path.join(dir, `initramfs-${hash}.cpio.gz`)
  if (fs.existsSync(initramfs)) return initramfs
  log(`building the initramfs for ${release}`)
  const stage = fs.mkdtempSync(path.join(cache, '.initramfs-'))
  try {
    fs.mkdirSync(path.join(stage, 'bin'))
    fs.mkdirSync(path.join(stage, 'lib/modules'), { recursive: true })
    fs.copyFileSync(busybox, path.join(stage, 'bin/busybox'))
    fs.chmodSync(path.join(stage, 'bin/busybox'), 0o755)
    fs.writeFileSync(path.join(stage, 'init'), init, { mode: 0o755 })
    const names = modules.map((file) => {
      const name = path.basename(file).replace(/\.xz$/, '')
      // busybox's insmod takes uncompressed modules.
      const bytes = file.endsWith('.xz') ? execFileSync('xz', ['-dc', file]) : fs.readFileSync(file)
      fs.writeFileSync(path.join(stage, 'lib/modules', name), bytes)
      return name
    })
    fs.writeFileSync(path.join(stage, 'modules'), `${names.join('\n')}\n`)
    fs.writeFileSync(path.join(stage, 'modules-dir'), path.join(dir, 'lib/modules', release))
    execFileSync('sh', ['-c', `cd "${stage}" && find . | cpio -o -H newc --quiet | gzip -1 > "${initramfs}.tmp"`])
    fs.renameSync(`${initramfs}.tmp`, initramfs)
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
  return initramfs
}

function availableMb() {
  const line = fs.readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith('MemAvailable:'))
  return Number(line.split(/\s+/)[1]) / 1024
}

/** Waits until the host has room for another guest: a guest's memory comes back slowly after it ends. */
async function roomForGuest() {
  const deadline = Date.now() + 10 * 60_000
  let said = false
  while (availableMb() < GUEST_MB + 1024) {
    if (Date.now() > deadline) throw new Error(`no ${GUEST_MB} MiB free for a guest after 10 minutes`)
    if (!said) log(`waiting for ${GUEST_MB} MiB of free memory (${availableMb().toFixed(0)} MiB free)`)
    said = true
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

function indent(lines) {
  return lines.map((l) => `    ${l}\n`).join('')
}

function formatTime(ms) {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

/**
 * A copy of the tree the guests run: what git tracks or would track, dist/, the built addon and
 * prebuilds, with node_modules linked (npm ci put it there; nothing rewrites it while tests run).
 */
function snapshot() {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfkit-kernels-tree-'))
  const built = ['dist', 'build/Release', 'prebuilds'].filter((p) => fs.existsSync(path.join(root, p)))
  // The sources as git sees them (tracked and new files, not ignored ones), as scripts/prebuild.sh copies them.
  const sources = 'git ls-files -z --cached --others --exclude-standard'
  const outputs = built.length > 0 ? `find ${built.join(' ')} -type f -print0` : 'true'
  execFileSync('sh', ['-ec', `{ ${sources}; ${outputs}; } | tar --null -T - -cf - | tar -C "$1" -xf -`, 'snapshot', tree],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(tree, 'node_modules'))
  return tree
}

/** Boots one kernel and runs the tests in `tree` there; resolves with its summary. */
async function boot(name, dir, initramfs, tree, files, options) {
  const release = fs.readFileSync(path.join(dir, 'release'), 'utf8').trim()
  const job = fs.mkdtempSync(path.join(os.tmpdir(), `bpfkit-kernel-${name}-`))
  const logFile = path.join(job, 'console.log')
  fs.writeFileSync(path.join(job, 'run.sh'), [
    // The guest booted and reached the tests: a VM that ends without this never ran any.
    ': > /job/started',
    `cd ${JSON.stringify(tree)}`,
    // CI: vitest's plain reporter (the console is a terminal).
    `export BPFKIT_TEST_SCALE=${SCALE} CI=true HOME=/root PATH=${JSON.stringify(process.env.PATH)}`,
    // One test process for the files: starting one per file costs 15 s each under emulation.
    `exec ${JSON.stringify(process.execPath)} node_modules/vitest/vitest.mjs run --no-isolate ${files.map((f) => JSON.stringify(f)).join(' ')}`,
    '',
  ].join('\n'))
  await roomForGuest()
  const begun = Date.now()
  // Two vCPUs on one emulation thread (thread=single), not one host thread each (MTTCG): a 6.12 guest
  // with a thread per vCPU once died of an int3 left at a patched static-branch site in __schedule
  // (the kernel's live text patching racing the other vCPU's translated code), and two such guests
  // side by side ran the subset in 6m14s-6m33s against 4m44s-4m45s this way (qemu 7.2, two host CPUs).
  const qemu = spawn('qemu-system-x86_64', [
    '-machine', 'q35', '-accel', 'tcg,thread=single', '-cpu', 'max', '-smp', '2', '-m', String(GUEST_MB),
    '-kernel', path.join(dir, 'vmlinuz'), '-initrd', initramfs,
    '-append', 'console=ttyS0 quiet panic=-1 oops=panic',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${job},mount_tag=job,security_model=none`,
    '-nic', 'none', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out = fs.createWriteStream(logFile)
  let console = ''
  const take = (chunk) => {
    out.write(chunk)
    console = (console + chunk.toString()).slice(-200_000)
    if (options.verbose) process.stdout.write(chunk.toString().split('\n').map((l) => (l ? `[${name}] ${l}` : l)).join('\n'))
  }
  qemu.stdout.on('data', take)
  qemu.stderr.on('data', take)
  const limit = (options.full ? 240 : 30) * 60_000
  const timer = setTimeout(() => qemu.kill('SIGKILL'), limit)
  const exit = await new Promise((resolve) => qemu.on('exit', (code, signal) => resolve(signal ?? code)))
  clearTimeout(timer)
  out.end()
  const elapsed = Date.now() - begun
  const status = fs.existsSync(path.join(job, 'status')) ? Number(fs.readFileSync(path.join(job, 'status'), 'utf8')) : undefined
  const text = console.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '')
  const summaries = [...text.matchAll(/tests: (\d+) passed, (\d+) failed, (\d+) skipped/g)]
  const counts = summaries.length === 0 ? null
    : summaries.reduce((sum, m) => [m[0], ...[1, 2, 3].map((i) => String(Number(sum[i]) + Number(m[i])))], ['', '0', '0', '0'])
  const skips = [...text.matchAll(/^\s*skipped: (.*)$/gm)].map((m) => m[1].trim())
  const failures = [...new Set([...text.matchAll(/^ FAIL (.*)$/gm)].map((m) => m[1].trim()))]
  const started = fs.existsSync(path.join(job, 'started'))
  const ok = status === 0 && counts !== null && counts[2] === '0'
  const what = counts === null
    ? `no test summary (${status === undefined ? `the VM ended: ${exit}` : `exit ${status}`})`
    : `${counts[1]} passed, ${counts[2]} failed, ${counts[3]} skipped${status === 0 ? '' : ` (exit ${status})`}`
  const tail = text.split('\n').filter((l) => l.trim() !== '').slice(-TAIL_LINES)
  // A guest the time limit killed hung rather than failed to boot: booting it again would hang as long.
  const bootFailed = !started && exit !== 'SIGKILL'
  return { name, release, ok, bootFailed, line: `kernel ${release}: ${what} in ${formatTime(elapsed)}`, skips, failures, logFile, job, tail }
}

/** Prepares each kernel and boots them `options.jobs` at a time; resolves with their summaries. */
async function bootAll(options, tree, files) {
  fs.mkdirSync(cache, { recursive: true })
  const prepared = options.kernels.map((name) => {
    const dir = ensureKernel(name)
    return { name, dir, initramfs: ensureInitramfs(dir) }
  })
  log(`booting ${prepared.map((p) => p.name).join(' and ')} (${options.jobs} at a time): ${files.length > 0 ? files.join(' ') : 'the whole suite'}`)
  const results = []
  const queue = [...prepared]
  const worker = async (delay) => {
    // Staggered starts: two guests booting at once fight over the same two cores.
    await new Promise((resolve) => setTimeout(resolve, delay))
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      let result = await boot(next.name, next.dir, next.initramfs, tree, files, options)
      // A guest that ended before its tests began ran nothing of bpfkit's: emulation failed to boot it
      // (rarely: once in CI, a 6.12 guest ended after 6 s). Its console is shown, and it boots again.
      for (let attempt = 1; result.bootFailed && attempt <= BOOT_RETRIES; attempt++) {
        process.stdout.write(`${result.line}: it never reached the tests; its console ended with:\n`)
        process.stdout.write(indent(result.tail))
        fs.rmSync(result.job, { recursive: true, force: true })
        log(`booting ${next.name} again (${attempt} of ${BOOT_RETRIES})`)
        result = await boot(next.name, next.dir, next.initramfs, tree, files, options)
      }
      process.stdout.write(`${result.line}\n`)
      results.push(result)
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.jobs, prepared.length) }, (_, i) => worker(i * 5000)))
  return results
}

async function main() {
  const options = parseArgs(process.argv.slice(2))
  for (const tool of ['qemu-system-x86_64', 'cpio', 'apt-get', 'dpkg', 'depmod', 'modprobe']) {
    try {
      run('sh', ['-c', `command -v ${tool}`])
    } catch {
      usage(`${tool} is missing: scripts/setup.sh installs what this needs (qemu-system-x86, busybox-static, cpio, kmod)`)
    }
  }
  const files = options.files.length > 0 ? options.files : options.full ? [] : SUBSET
  // The tree as it is now, before anything is downloaded.
  const tree = snapshot()
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      fs.rmSync(tree, { recursive: true, force: true })
      process.exit(130)
    })
  }
  let results
  try {
    results = await bootAll(options, tree, files)
  } finally {
    fs.rmSync(tree, { recursive: true, force: true })
  }
  let failed = false
  for (const result of results.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))) {
    for (const skip of result.skips) process.stdout.write(`  ${result.release} skipped: ${skip}\n`)
    for (const failure of result.failures) process.stdout.write(`  ${result.release} FAIL ${failure}\n`)
    if (!result.ok) {
      failed = true
      // CI keeps only what is printed: the end of the console says how the guest ended.
      if (result.failures.length === 0) process.stdout.write(`  ${result.release}: its console ended with:\n${indent(result.tail)}`)
      process.stdout.write(`  ${result.release}: console log in ${result.logFile}\n`)
    } else {
      fs.rmSync(result.job, { recursive: true, force: true })
    }
  }
  process.exitCode = failed ? 1 : 0
}

main().catch((error) => {
  process.stderr.write(`test:kernels: ${error.message}\n`)
  process.exit(1)
})
