import * as path from 'node:path'
import { defineConfig } from 'vitest/config'

// BPFKIT_TEST_SCALE: how much slower this machine is (npm run test:kernels under qemu's emulation).
const scale = Number(process.env.BPFKIT_TEST_SCALE) || 1

export default defineConfig({
  resolve: {
    // Tests use the built package exactly as users import it.
    alias: [
      { find: /^bpfkit$/, replacement: path.resolve(__dirname, 'dist/index.mjs') },
      { find: /^bpfkit\/metrics$/, replacement: path.resolve(__dirname, 'dist/metrics/index.mjs') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    pool: 'forks',
    // Tests share the kernel (tracepoints, program ids): one file at a time.
    fileParallelism: false,
    testTimeout: 60_000 * scale,
    hookTimeout: 60_000 * scale,
    server: { deps: { external: [/\/dist\//] } },
  },
})
