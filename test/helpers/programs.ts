/**
 * Outside programs that some tests run themselves: nginx (deploy/nginx.conf, for real), a private
 * redis-server (stopped and restarted mid-test), openssl (a throwaway certificate),
 * systemd-analyze (verifying the unit file) and curl (the README's health check, as written). A
 * test whose program is missing is SKIPPED with a
 * reason naming the program and how to install it, so `npm test` passes on a machine without
 * them; test/helpers/skip-reporter.ts lists the skips and .ci/run, which installs every one of
 * these, fails on any skip. PostgreSQL and Redis themselves are services every test machine
 * runs: tests needing them fail, clearly, when they are unreachable.
 */
import { accessSync, constants, statSync } from 'node:fs'
import * as path from 'node:path'
import type { TestContext } from 'vitest'

/** Each program, and the Debian package that installs it. */
const PACKAGES = {
  nginx: 'nginx',
  'redis-server': 'redis-server',
  openssl: 'openssl',
  'systemd-analyze': 'systemd',
  // The README's `curl .../health`, run as written (test/integration/readme.test.ts).
  curl: 'curl',
} as const

export type Program = keyof typeof PACKAGES

// Debian installs nginx in /usr/sbin, which is not on an ordinary user's PATH.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin']

function isExecutableFile (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch (err) {
    // ENOENT or EACCES: not usable from here, so the search goes on to the next directory.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES') return false
    throw err
  }
}

/** The absolute path of `name` on PATH or in the sbin directories, or null when it is not installed. */
export function findProgram (name: Program): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...SBIN].filter((d) => d !== '')
  for (const dir of dirs) {
    const file = path.join(dir, name)
    if (isExecutableFile(file)) return file
  }
  return null
}

/** Why a test needing `name` is skipped: the program and how to install it. */
export function missingReason (name: Program): string {
  return `${name} is not installed (on PATH or in ${SBIN.join(', ')}); install it with \`apt-get install ${PACKAGES[name]}\` (.ci/run does)`
}

/**
 * The absolute path of `name`; when it is missing, skips the calling test with the reason.
 * Call it first in the test, before anything that needs cleaning up.
 */
export function requireProgram (ctx: TestContext, name: Program): string {
  const file = findProgram(name)
  if (file === null) ctx.skip(missingReason(name))
  return file
}
