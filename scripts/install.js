#!/usr/bin/env node
// npm's install step: use the prebuilt addon that matches this platform, or the local build when it
// is current; otherwise build from source, or end with one line saying what the build needs.
// It resolves binaries as node-gyp-build does at run time (npm_config_arch, npm_config_platform
// and LIBC override the platform, as they do for node-gyp-build).
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const nodeGypBuild = require('node-gyp-build')
const { sourceHash, depsDir } = require('./build-config.js')

const root = path.join(__dirname, '..')
const arch = process.env.npm_config_arch || process.arch
const platform = process.env.npm_config_platform || process.platform
const glibc = process.report?.getReport().header.glibcVersionRuntime
const libc = process.env.LIBC || (glibc ? 'glibc' : 'musl')
const target = `${platform}-${arch} (${libc})`

function say(message) {
  process.stderr.write(`bpfkit: ${message}\n`)
}

/** The addon node-gyp-build would load from `dir`, or null when there is none or the local build is stale. */
function current(dir = root) {
  let file
  try {
    file = nodeGypBuild.path(dir)
  } catch {
    return null
  }
  // A local build must have been made from this tree; a prebuild is what the package shipped.
  const local = !path.relative(path.join(dir, 'build'), file).startsWith('..')
  return !local || fs.readFileSync(file).includes(sourceHash()) ? file : null
}

function have(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

// What building from source needs on this host, as [what, Debian package] pairs that are missing.
function missingTools() {
  const shared = process.env.BPFKIT_LINK === 'shared'
  const needs = [
    ['a C++ compiler', 'g++', () => have('c++') || have('g++')],
    ['make', 'make', () => have('make')],
    ['python3', 'python3', () => have('python3')],
  ]
  if (shared) {
    needs.push(['libbpf headers', 'libbpf-dev', () => have('pkg-config') && spawnSync('pkg-config', ['--exists', 'libbpf']).status === 0])
  } else if (!fs.existsSync(path.join(depsDir(arch), 'stamp'))) {
    // scripts/deps.sh fetches and builds the pinned libbpf, libelf and zlib.
    needs.push(
      ['a C compiler', 'gcc', () => have('cc') || have('gcc')],
      ['curl', 'curl', () => have('curl') || have('wget')],
      ['bzip2', 'bzip2', () => have('bzip2')],
    )
  }
  return needs.filter(([, , ok]) => !ok()).map(([what, pkg]) => [what, pkg])
}

function buildFromSource() {
  if (platform !== 'linux') {
    say(`eBPF needs Linux; there is no bpfkit for ${target}.`)
    process.exit(1)
  }
  const missing = missingTools()
  if (missing.length > 0 || libc !== 'glibc') {
    const packages = missing.map(([, pkg]) => pkg).join(' ')
    const install =
      libc === 'glibc'
        ? `apt-get install -y ${packages}`
        : 'apk add build-base python3 linux-headers libbpf-dev elfutils-dev zlib-dev, then BPFKIT_LINK=shared npm install bpfkit'
    const needs = missing.length > 0 ? `needs ${missing.map(([what]) => what).join(', ')}` : 'needs the system libbpf'
    say(`no prebuilt binary for ${target}, and building from source ${needs}: ${install}`)
    process.exit(1)
  }
  say(`no prebuilt binary for ${target}: building from source`)
  const run = (command, args) => {
    const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' })
    if (result.status !== 0) process.exit(result.status ?? 1)
  }
  if (process.env.BPFKIT_LINK !== 'shared') run('bash', [path.join(root, 'scripts/deps.sh'), '--arch', arch])
  // npm hands lifecycle scripts the path of its own node-gyp.
  const gyp = process.env.npm_config_node_gyp
  // Every core (make -j), unless npm_config_jobs says how many.
  const jobs = process.env.npm_config_jobs ? [] : ['--jobs=max']
  run(process.execPath, [gyp || require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', `--arch=${arch}`, ...jobs])
}

module.exports = { current }

if (require.main === module && !current()) buildFromSource()

