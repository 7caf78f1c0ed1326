#!/usr/bin/env node
// One place for what binding.gyp and CMakeLists.txt both need: sources, include dirs, libraries, source hash.
//   node scripts/build-config.js sources|include|libs|hash [x64|arm64]
// libbpf, libelf and zlib link statically from deps/linux-<arch>/ (made by scripts/deps.sh); linking the
// host's shared libbpf instead is an explicit opt-in: BPFKIT_LINK=shared.
'use strict'
const { execFileSync } = require('node:child_process')
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8'))

function depsDir(arch = process.arch) {
  return path.join(root, 'deps', `linux-${arch}`)
}

function depLibs(arch) {
  return ['libbpf.a', 'libelf.a', 'libeu.a', 'libz.a'].map((f) => path.join(depsDir(arch), 'lib', f))
}

function staticDeps(arch) {
  if (process.env.BPFKIT_LINK === 'shared') return false
  const missing = depLibs(arch).filter((f) => !fs.existsSync(f))
  if (missing.length > 0) {
    const command = arch === process.arch ? 'npm run deps' : `npm run deps -- --arch ${arch}`
    process.stderr.write(
      `bpfkit: ${path.relative(root, missing[0])} is missing: run \`${command}\` ` +
        "(or set BPFKIT_LINK=shared to link the host's libbpf instead)\n",
    )
    process.exit(1)
  }
  return true
}

function pkgConfig(...args) {
  return execFileSync('pkg-config', args, { encoding: 'utf8' }).trim()
}

// What the addon is built from: the native sources and the pinned dependencies. The addon reports this
// hash, so a stale build/ is rebuilt at install and a stale prebuild is caught by a test.
function sourceHash() {
  const hash = createHash('sha256')
  const files = fs
    .readdirSync(path.join(root, 'native'))
    .filter((f) => /\.(cc|h|json|map)$/.test(f))
    .sort()
    .map((f) => `native/${f}`)
  for (const file of [...files, 'binding.gyp', 'scripts/build-config.js', 'scripts/deps.sh']) {
    hash.update(file)
    hash.update(fs.readFileSync(path.join(root, file)))
  }
  return hash.digest('hex').slice(0, 16)
}

const commands = {
  sources: () => sources.join(' '),
  cflags: () => ['-std=c++17', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers'].join(' '),
  include: (arch) =>
    staticDeps(arch) ? path.join(depsDir(arch), 'include') : pkgConfig('--cflags-only-I', 'libbpf').replace(/-I/g, ''),
  libs: (arch) =>
    [
      // Keep the static libraries' symbols private to the addon, so other addons cannot clash with them.
      ...(staticDeps(arch) ? ['-Wl,--exclude-libs,ALL', ...depLibs(arch)] : [pkgConfig('--libs', 'libbpf')]),
      // No GLIBCXX symbol versions: the addon needs only what glibc provides.
      '-static-libstdc++',
      `-Wl,--version-script=${path.join(root, 'native/exports.map')}`,
    ].join(' '),
  hash: sourceHash,
}

module.exports = { sourceHash, depsDir }

if (require.main === module) {
  const command = commands[process.argv[2]]
  if (!command) {
    process.stderr.write(`usage: build-config.js ${Object.keys(commands).join('|')} [x64|arm64]\n`)
    process.exit(2)
  }
  process.stdout.write(`${command(process.argv[3] || process.arch)}\n`)
}
