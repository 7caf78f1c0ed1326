#!/usr/bin/env node
// npm's prepare step, after `npm ci` in a clone and before `npm pack`/`npm publish`: compiles the
// TypeScript into dist/ (installing the dev dependencies first when a clean clone has none), and for a
// package checks the prebuilds it will ship: a stale one is refused, missing ones are named.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm']

if (!fs.existsSync(path.join(root, 'node_modules/typescript'))) {
  process.stderr.write('bpfkit: installing the dev dependencies to compile dist/ (npm ci --ignore-scripts)\n')
  run(npm[0], [...npm.slice(1), 'ci', '--ignore-scripts', '--no-audit', '--no-fund'])
}
run(npm[0], [...npm.slice(1), 'run', 'build:ts'])

if (['pack', 'publish'].includes(process.env.npm_command)) {
  const { sourceHash } = require('./build-config.js')
  const hash = sourceHash()
  const missing = []
  for (const arch of ['x64', 'arm64']) {
    const file = path.join(root, 'prebuilds', `linux-${arch}`, 'node.napi.glibc.node')
    if (!fs.existsSync(file)) missing.push(`linux-${arch}`)
    else if (!fs.readFileSync(file).includes(hash)) {
      process.stderr.write(`bpfkit: ${path.relative(root, file)} was built from other native sources: run \`npm run prebuild\`\n`)
      process.exit(1)
    }
  }
  if (missing.length > 0) {
    process.stderr.write(
      `bpfkit: warning: no prebuilt addon for ${missing.join(', ')} in this package, so installs there compile from source ` +
        '(`npm run prebuild` makes them; it needs root and debootstrap)\n',
    )
  }
}
