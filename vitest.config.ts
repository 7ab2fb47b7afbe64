import * as path from 'node:path'
import { defineConfig, type Plugin } from 'vitest/config'

const DIST = path.resolve(import.meta.dirname, 'dist') + path.sep

/**
 * Makes a unit test fail at once when it (or a helper it uses) imports the built package: unit
 * tests must run without a build, so `npm run test:unit` never tests stale code.
 */
function unitTestsImportSrc (): Plugin {
  return {
    name: 'collabd:unit-tests-import-src',
    enforce: 'pre',
    async resolveId (source, importer, options) {
      if (importer === undefined || importer.startsWith(DIST)) return null
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true })
      if (resolved !== null && resolved.id.startsWith(DIST)) {
        throw new Error(`${path.relative(import.meta.dirname, importer)} imports ${source}: unit tests import src/, never the built dist/ (move the test to test/integration, or import from src/)`)
      }
      return null
    },
  }
}

// Two projects:
// - unit: test/unit imports src/ directly (vitest compiles the TypeScript), so it needs no build
//   and runs in seconds: `npm run test:unit`.
// - integration: test/integration, test/contract and test/bench import the built package
//   (dist/), so they exercise exactly what `npm start` runs, including the SQLite worker thread.
//   `npm test` builds first.
// Skipped tests (an outside program such as nginx is missing) are listed with their reasons at
// the end of the run by test/helpers/skip-reporter.ts, which .ci/run also uses to fail on them.
export default defineConfig({
  test: {
    pool: 'forks',
    // The machine has 2 cores and several tests spawn server processes.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/skip-reporter.ts'],
    projects: [
      {
        extends: true,
        plugins: [unitTestsImportSrc()],
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 10_000,
          hookTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/contract/**/*.test.ts', 'test/bench/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
})
