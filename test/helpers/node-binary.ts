/**
 * A Node.js binary of an exact version, for running the built package under the oldest Node.js
 * that package.json `engines` allows. It comes from the npm registry: the node-<platform>-<arch>
 * package of that version (the one the `node` package installs), fetched with `npm pack` once
 * and kept under the OS temp directory, so later runs cost nothing.
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** How long fetching one version may take (about 40 MB; 2 s on CI's network). */
const FETCH_TIMEOUT_MS = 120_000

/** What npm says when it cannot reach the registry at all (rather than, say, a missing version). */
const UNREACHABLE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|socket hang up|network/i

export type NodeBinary = { readonly path: string } | { readonly unavailable: string }

function executable (file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * The path of Node.js `version` (e.g. '20.12.0'), fetched and cached on first use.
 * @returns `{ unavailable }` with the reason when this platform has no such package or the
 *   registry cannot be reached (within FETCH_TIMEOUT_MS).
 * @throws when npm fails for another reason (e.g. no such version), which is a real failure.
 */
export async function nodeBinary (version: string): Promise<NodeBinary> {
  const { platform, arch } = process
  if (!['linux', 'darwin'].includes(platform) || !['x64', 'arm64'].includes(arch)) {
    return { unavailable: `no Node.js package of the npm registry is used for ${platform}-${arch} here; run this test on Linux or macOS, x64 or arm64` }
  }
  const pkg = `node-${platform}-${arch}@${version}`
  const root = path.join(tmpdir(), 'collabd-test-node')
  const dir = path.join(root, `${version}-${platform}-${arch}`)
  const binary = path.join(dir, 'bin', 'node')
  if (executable(binary)) return { path: binary }

  mkdirSync(root, { recursive: true })
  // Fetched and unpacked beside the cache, then renamed into place in one step, so a run that
  // is killed halfway or runs at the same time never sees half a binary.
  const work = mkdtempSync(path.join(root, 'fetch-'))
  try {
    try {
      await run('npm', ['pack', pkg, '--pack-destination', work, '--loglevel=error'], { timeout: FETCH_TIMEOUT_MS, maxBuffer: 1 << 20 })
    } catch (err) {
      const e = err as Error & { killed?: boolean, stderr?: string }
      const lines = (e.stderr ?? '').split('\n').map((l) => l.replace(/^npm error\s*/, '').trim()).filter((l) => l !== '')
      // npm's one-line summary: "FetchError: request to ... failed, reason: ..." or "notarget No matching version ...".
      const detail = lines.find((l) => /FetchError|reason:|notarget|E404|ETARGET/.test(l)) ?? lines[0] ?? e.message
      if (e.killed === true) return { unavailable: `fetching ${pkg} from the npm registry took longer than ${FETCH_TIMEOUT_MS / 1000} s` }
      if (UNREACHABLE.test(e.stderr ?? e.message)) return { unavailable: `the npm registry could not be reached to fetch ${pkg} (${detail})` }
      throw new Error(`npm pack ${pkg} failed: ${detail}`, { cause: err })
    }
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))
    if (tarball === undefined) throw new Error(`npm pack ${pkg} wrote no tarball`)
    await run('tar', ['-xzf', path.join(work, tarball), '-C', work, 'package/bin/node'], { timeout: 60_000 })
    try {
      renameSync(path.join(work, 'package'), dir)
    } catch (err) {
      // Another run put it there first: theirs is as good.
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err
    }
    return { path: binary }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
