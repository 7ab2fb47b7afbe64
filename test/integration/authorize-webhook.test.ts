/**
 * AUTHORIZE_URL: the app decides access per user and document. A local HTTP server plays the
 * app: it allows, grants read-only, denies, stalls past the timeout and fails; every failure
 * denies. A denied connection never causes a storage read, and answers are cached.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { afterEach, expect, it } from 'vitest'
import { MemoryStore } from '../../dist/index.js'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'

class CountingStore extends MemoryStore {
  loads: string[] = []
  override async load (name: string): ReturnType<MemoryStore['load']> {
    this.loads.push(name)
    return await super.load(name)
  }
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  destroyClients()
  for (const c of cleanups.splice(0)) await c()
})

interface Call { user: { id: string, role: string | null } | null, document: string, authorization: string | undefined }

/** The app: answers by document name. */
async function app (): Promise<{ url: string, calls: Call[] }> {
  const calls: Call[] = []
  const server: Server = createHttpServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      const call = { ...JSON.parse(body) as Omit<Call, 'authorization'>, authorization: req.headers.authorization }
      calls.push(call)
      const answer = (access: string): void => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ access })) }
      if (call.document.startsWith('write')) answer('write')
      else if (call.document.startsWith('read')) answer('read')
      else if (call.document.startsWith('none')) answer('none')
      else if (call.document.startsWith('slow')) setTimeout(() => answer('write'), 2000)
      else if (call.document.startsWith('odd')) answer('admin')
      else { res.statusCode = 500; res.end('boom') }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/collab/authorize`, calls }
}

async function collabd (url: string, store = new CountingStore()): Promise<TestServer & { store: CountingStore }> {
  const s = await startServer({ store, env: { JWT_SECRET: SECRET, AUTHORIZE_URL: url, AUTHORIZE_TOKEN: 'app-shared-secret', AUTHORIZE_TIMEOUT_MS: '300' } })
  cleanups.push(async () => { await s.close() })
  return Object.assign(s, { store })
}

const token = async (sub: string): Promise<string> =>
  await new SignJWT({ sub, role: 'editor' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(SECRET))

it('lets the app allow, allow read-only and deny, telling it who asks for what', async () => {
  const { url, calls } = await app()
  const s = await collabd(url)
  const t = await token('ann')
  const writer = yws(s.url, 'write-1', { params: { token: t } })
  const reader = hocus(s.url, 'read-1', { token: t })
  let scope: string | null = null
  reader.provider.on('authenticated', ({ scope: sc }: { scope: string }) => { scope = sc })
  await synced(writer.provider)
  await synced(reader.provider)
  expect(scope).toBe('readonly')
  const denied = await raw(`${s.url}/none-1?token=${t}`)
  expect((await denied.closed).code).toBe(4403)
  expect(calls.map((c) => c.document).sort()).toEqual(['none-1', 'read-1', 'write-1'])
  expect(calls[0]!.user?.id).toBe('ann')
  expect(calls[0]!.user?.role).toBe('editor')
  expect(calls[0]!.authorization).toBe('Bearer app-shared-secret')
  expect(s.store.loads).not.toContain('none-1')
})

it.each([
  ['times out', 'slow-1', 'timeout'],
  ['answers HTTP 500', 'fail-1', 'HTTP 500'],
  ['answers something else', 'odd-1', '"access"'],
])('denies when the app %s, without loading the document', async (_what, doc, logged) => {
  const { url } = await app()
  const s = await collabd(url)
  const client = await raw(`${s.url}/${doc}?token=${await token('bob')}`)
  expect((await client.closed).code).toBe(4403)
  expect(s.store.loads).toEqual([])
  expect(String(s.logs.find((l) => l.msg === 'connection refused')?.reason)).toContain(logged)
})

it('reuses an answer for the same user and document, and serves the document meanwhile', async () => {
  const { url, calls } = await app()
  const s = await collabd(url)
  const t = await token('cy')
  const a = yws(s.url, 'write-2', { params: { token: t } })
  const b = yws(s.url, 'write-2', { params: { token: t } })
  await synced(a.provider)
  await synced(b.provider)
  a.doc.getText('t').insert(0, 'ok')
  await waitFor(() => text(b.doc) === 'ok', 'the edit to arrive')
  expect(calls.filter((c) => c.document === 'write-2')).toHaveLength(1)
})
