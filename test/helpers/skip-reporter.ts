/**
 * A vitest reporter that lists every skipped test with its reason (the note given to
 * `ctx.skip(note)`, e.g. which outside program is missing and how to install it) after the
 * summary, so a skip is never silent. With TEST_SKIP_REPORT=<file> it also writes that list to
 * the file, one `file > test: reason` a line, and an empty file when nothing was skipped:
 * .ci/run runs `npm test` with it and fails when the file is missing or not empty, so CI still
 * covers everything.
 */
import { writeFileSync } from 'node:fs'
import * as path from 'node:path'
import type { Reporter, TestModule, Vitest } from 'vitest/node'

export default class SkipReporter implements Reporter {
  private vitest: Vitest | null = null

  onInit (vitest: Vitest): void {
    this.vitest = vitest
  }

  onTestRunEnd (testModules: ReadonlyArray<TestModule>): void {
    const root = this.vitest?.config.root ?? process.cwd()
    const filtered = this.vitest?.config.testNamePattern !== undefined
    const lines: string[] = []
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result()
        if (result.state !== 'skipped') continue
        // Left out by -t (a developer running some tests) is not a skip; CI never filters.
        if (filtered && result.note === undefined) continue
        const reason = result.note ?? `skipped without a reason (${test.options.mode})`
        lines.push(`${path.relative(root, module.moduleId)} > ${test.fullName}: ${reason}`)
      }
    }
    if (lines.length > 0) {
      const log = this.vitest?.logger
      const text = `\nSkipped ${lines.length} test${lines.length === 1 ? '' : 's'}:\n${lines.map((l) => `  - ${l}`).join('\n')}\n`
      if (log !== undefined) log.log(text)
      else process.stdout.write(`${text}\n`)
    }
    const file = process.env.TEST_SKIP_REPORT
    if (file !== undefined && file !== '') writeFileSync(file, lines.map((l) => `${l}\n`).join(''))
  }
}
