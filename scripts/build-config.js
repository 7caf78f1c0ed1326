#!/usr/bin/env node
// One place for what binding.gyp and CMakeLists.txt both need: sources, include dirs, libraries, source hash.
//   node scripts/build-config.js sources|include|libs|hash
// libbpf and libelf link statically from deps/ (made by scripts/deps.sh) unless BPFKIT_LINK=shared.
'use strict'
const { execFileSync } = require('node:child_process')
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const deps = path.join(root, 'deps')
const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8'))

function staticDeps() {
  if (process.env.BPFKIT_LINK === 'shared') return false
  const have = ['lib/libbpf.a', 'lib/libelf.a', 'lib/libeu.a'].every((f) => fs.existsSync(path.join(deps, f)))
  if (!have) {
    process.stderr.write(
      'bpfkit: deps/lib/libbpf.a, libelf.a or libeu.a is missing (run `npm run deps`); linking the shared libraries instead\n',
    )
  }
  return have
}

function pkgConfig(...args) {
  return execFileSync('pkg-config', args, { encoding: 'utf8' }).trim()
}

// Hash of every native source and header: the addon reports it, so a stale prebuild is caught by a test.
function sourceHash() {
  const hash = createHash('sha256')
  const files = fs.readdirSync(path.join(root, 'native')).filter((f) => /\.(cc|h|json)$/.test(f)).sort()
  for (const file of files) {
    hash.update(file)
    hash.update(fs.readFileSync(path.join(root, 'native', file)))
  }
  return hash.digest('hex').slice(0, 16)
}

const commands = {
  sources: () => sources.join(' '),
  include: () => (staticDeps() ? path.join(deps, 'include') : pkgConfig('--cflags-only-I', 'libbpf').replace(/-I/g, '')),
  libs: () =>
    staticDeps()
      ? [
          // Keep libbpf's and libelf's symbols private to the addon, so other addons cannot clash with them.
          '-Wl,--exclude-libs,ALL',
          path.join(deps, 'lib/libbpf.a'),
          path.join(deps, 'lib/libelf.a'),
          path.join(deps, 'lib/libeu.a'),
          '-Wl,-Bstatic',
          '-lz',
          '-Wl,-Bdynamic',
        ].join(' ')
      : pkgConfig('--libs', 'libbpf'),
  hash: sourceHash,
}

module.exports = { sourceHash }

if (require.main === module) {
  const command = commands[process.argv[2]]
  if (!command) {
    process.stderr.write(`usage: build-config.js ${Object.keys(commands).join('|')}\n`)
    process.exit(2)
  }
  process.stdout.write(`${command()}\n`)
}
