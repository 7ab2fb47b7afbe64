import { defineConfig } from 'vitest/config'

// Tests import the built package (dist/), so they exercise exactly what `npm start` runs,
// including the SQLite worker thread. `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // The machine has 2 cores and several tests spawn server processes.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
})
