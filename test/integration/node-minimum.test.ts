/**
 * The oldest Node.js that package.json `engines` allows runs the built package: `collabd
 * --version`, and `collabd start` with a .env (read with process.loadEnvFile, which Node 20.11
 * lacks) on the default SQLite store (native module and worker thread) until it listens, stores
 * a client's edit and stops cleanly on SIGTERM. The binary is fetched from the npm registry once
 * and cached (test/helpers/node-binary.ts); without the registry the test is skipped, with the
 * reason, and .ci/run fails on the skip.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { destroyClients, hocus, synced } from '../helpers/clients.js'
import { nodeBinary } from '../helpers/node-binary.js'
import { CLI, ROOT, spawnServer, tempDir, type ServerProcess } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string, engines: { node: string } }
/** `^20.12.0 || >=22.0.0` -> 20.12.0: the lowest version of the first range. */
const oldest = /^\s*(?:\^|>=)\s*(\d+\.\d+\.\d+)(?:\s|$)/.exec(pkg.engines.node)?.[1]

let server: ServerProcess | null = null
const dirs: Array<{ remove (): void }> = []
afterEach(async () => {
  destroyClients()
  await server?.stop('SIGKILL')
  server = null
  for (const d of dirs.splice(0)) d.remove()
})

it(`runs the built CLI under the oldest Node.js that engines allows (${pkg.engines.node})`, async (ctx) => {
  expect(oldest, `engines.node "${pkg.engines.node}" should start with ^X.Y.Z or >=X.Y.Z, the oldest version this test runs`).toBeDefined()
  const node = await nodeBinary(oldest!)
  if ('unavailable' in node) return ctx.skip(node.unavailable)
  expect(spawnSync(node.path, ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe(`v${oldest}`)

  const version = spawnSync(node.path, [CLI, '--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 10_000 })
  expect(version.stderr).toBe('')
  expect(version.stdout.trim()).toBe(pkg.version)

  const dir = tempDir('collabd-node-minimum-')
  dirs.push(dir)
  // The settings come from .env; WS_PATH shows that it was read.
  writeFileSync(path.join(dir.dir, '.env'), 'WS_PATH=/from-dotenv\n')
  server = await spawnServer({}, { cwd: dir.dir, node: node.path })
  const listening = server.logs().find((l) => l.msg === 'listening')!
  expect(listening.wsPath).toBe('/from-dotenv')
  expect(server.logs().find((l) => l.msg === 'starting')!.storage).toMatch(/^sqlite /)

  // An acknowledged edit has gone through the SQLite worker thread and is on disk.
  const client = hocus(`ws://127.0.0.1:${server.port}/from-dotenv`, 'on-the-oldest-node')
  await synced(client.provider)
  client.doc.getText('t').insert(0, 'stored by the oldest Node.js')
  await waitFor(() => client.provider.unsyncedChanges === 0, 'the edit to be acknowledged (stored)')
  destroyClients()

  expect(await server.stop('SIGTERM')).toBe(0)
  expect(server.logs().some((l) => l.msg === 'shut down' && l.clean === true)).toBe(true)
  expect(server.stderr.join('')).toBe('')
  server = null
}, 180_000)
