/**
 * A live server under thousands of random and mutated frames on both protocols, while real
 * clients keep editing a document beside them: the server stays healthy, never hits an
 * internal error, and the watched document keeps its content and keeps syncing.
 */
import * as encoding from 'lib0/encoding'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { destroyClients, hocus, raw, synced, text, yws } from '../helpers/clients.js'
import { fuzzFrame, tokenFrame, validBodies, type Random } from '../helpers/fuzz.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { prng, waitFor } from '../helpers/wait.js'

let t: TestServer
beforeAll(async () => { t = await startServer({ config: { maxQueuedMessagesBeforeAuth: 50 } }) })
afterEach(() => destroyClients())
afterAll(async () => { await t.close() })

const FRAMES_PER_PROTOCOL = 2000
const CONCURRENCY = 12

const syncStep1Probe = (): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  syncProtocol.writeSyncStep1(e, new Y.Doc())
  return encoding.toUint8Array(e)
}

/**
 * Opens a socket, sends 1-5 fuzz frames and then a probe the server always answers while the
 * socket is open; returns once the probe is answered or the socket closed. @returns frames sent.
 */
async function fuzzOneSocket (random: Random, bodies: Uint8Array[], protocol: 'yws' | 'hp', k: number): Promise<number> {
  const doc = `fuzz-${protocol}-${k % 7}`
  const c = await raw(protocol === 'yws' ? `${t.url}/${doc}` : t.url)
  if (protocol === 'hp') c.send(tokenFrame(doc))
  const n = 1 + Math.floor(random() * 5)
  for (let i = 0; i < n; i++) c.send(fuzzFrame(random, bodies, protocol === 'hp' ? doc : null))
  const before = c.frames.length
  c.send(protocol === 'hp' ? Uint8Array.of(9) : syncStep1Probe())
  await waitFor(() => c.isClosed() || c.frames.slice(before).some((f) => (protocol === 'hp' ? f.length === 1 && f[0] === 10 : f[0] === 0 && f[1] === 1)), 'the probe answer or a close')
  c.ws.terminate()
  return n
}

it('stays healthy and keeps an existing document intact under fuzzed frames on both protocols', async () => {
  const a = yws(t.url, 'witness')
  const b = hocus(t.url, 'witness')
  await synced(a.provider)
  await synced(b.provider)
  a.doc.getText('t').insert(0, 'content that must survive')
  await waitFor(() => text(b.doc) === 'content that must survive', 'the witness clients to agree')

  const bodies = validBodies(prng(424242))
  for (const protocol of ['yws', 'hp'] as const) {
    let sent = 0
    // One seeded generator per worker, so each worker's frames replay exactly.
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
      const random = prng(1000 * worker + (protocol === 'yws' ? 1 : 2))
      for (let k = worker; sent < FRAMES_PER_PROTOCOL; k += CONCURRENCY) {
        const n = await fuzzOneSocket(random, bodies, protocol, k)
        sent += n
      }
    }))
    expect(sent).toBeGreaterThanOrEqual(FRAMES_PER_PROTOCOL)
  }

  const health = await fetch(`${t.httpUrl}/health`)
  expect(health.status).toBe(200)
  expect(t.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([])
  expect(t.logs.filter((l) => l.msg === 'closing connection').length).toBeGreaterThan(300)
  expect(t.server.registry.get('witness')!.doc.getText('t').toString()).toBe('content that must survive')
  b.doc.getText('t').insert(0, '> ')
  await waitFor(() => text(a.doc) === '> content that must survive', 'the witness to keep syncing (hocuspocus to y-websocket)')
  a.doc.getText('t').insert(text(a.doc).length, ' <')
  await waitFor(() => text(b.doc) === '> content that must survive <', 'the witness to keep syncing (y-websocket to hocuspocus)')
  await waitFor(() => b.provider.unsyncedChanges === 0, 'the witness edit to be acknowledged')
})
