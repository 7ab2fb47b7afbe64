/**
 * The durability rule, watched from the client: an update is relayed at once but acknowledged
 * (Hocuspocus SyncStatus, the provider's unsyncedChanges) only after its log row committed;
 * appends are grouped; a failing store acknowledges nothing and loses nothing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStore } from '../../dist/index.js'
import { destroyClients, hocus, synced, text } from '../helpers/clients.js'
import { GatedStore } from '../helpers/gated-store.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { waitFor } from '../helpers/wait.js'

let t: TestServer | null = null
afterEach(async () => {
  destroyClients()
  await t?.close()
  t = null
})

describe('acknowledgement after commit', () => {
  it('keeps unsyncedChanges above 0 until the log row has committed', async () => {
    const store = new GatedStore(new MemoryStore())
    t = await startServer({ store })
    const writer = hocus(t.url, 'ack')
    const reader = hocus(t.url, 'ack')
    await synced(writer.provider)
    await synced(reader.provider)
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'the initial sync to settle')

    store.hold()
    writer.doc.getText('t').insert(0, 'important')
    // Broadcast does not wait for storage: the reader has it while the write is held...
    await waitFor(() => text(reader.doc) === 'important', 'the reader to receive the edit before the commit')
    await waitFor(() => store.appendCalls.length > 0, 'the append to be in flight')
    // ...but the writer has not been told it is saved.
    expect(writer.provider.unsyncedChanges).toBe(1)
    expect(writer.provider.hasUnsyncedChanges).toBe(true)

    store.release()
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'the acknowledgement after the commit')
    const stored = await store.inner.load('ack')
    expect(stored?.updates.length).toBeGreaterThan(0)
  })

  it('groups updates that arrive during a write into the next write', async () => {
    const store = new GatedStore(new MemoryStore())
    t = await startServer({ store })
    const writer = hocus(t.url, 'group')
    await synced(writer.provider)
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'the initial sync to settle')
    const callsBefore = store.appendCalls.length

    store.hold()
    writer.doc.getText('t').insert(0, 'a') // first write starts with this one
    await waitFor(() => store.appendCalls.length === callsBefore + 1, 'the first write to start')
    for (let i = 0; i < 200; i++) writer.doc.getText('t').insert(1, 'b')
    await waitFor(() => t!.server.durability.pendingUpdates === 201, 'all 200 later updates to queue behind it')
    store.release()
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'every update acknowledged')
    const calls = store.appendCalls.slice(callsBefore)
    expect(calls[0]).toHaveLength(1)
    expect(calls.slice(1).reduce((n, c) => n + c.length, 0)).toBe(200)
    expect(calls.length).toBeLessThanOrEqual(3) // the 200 went out together, not one write each
  })

  it('acknowledges nothing while the store fails, then writes and acknowledges everything', async () => {
    const store = new GatedStore(new MemoryStore())
    t = await startServer({ store })
    const writer = hocus(t.url, 'failing')
    await synced(writer.provider)
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'the initial sync to settle')

    store.failAppends = new Error('disk on fire')
    for (let i = 0; i < 10; i++) writer.doc.getText('t').insert(0, String(i))
    await waitFor(() => store.appendCalls.length >= 3, 'a few failed attempts')
    expect(writer.provider.unsyncedChanges).toBe(10)
    const health = await (await fetch(`${t.httpUrl}/health`)).json() as { status: string, database: { connected: boolean } }
    expect(health.status).toBe('unhealthy')
    expect(health.database.connected).toBe(false)

    store.failAppends = null
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'every update acknowledged after recovery', 15_000)
    const stored = await store.inner.load('failing')
    expect(stored?.updates).toHaveLength(10)
    expect((await fetch(`${t.httpUrl}/health`)).status).toBe(200)
  })

  it('refuses new updates with 1013 once too much waits for a failing store, and recovers', async () => {
    const store = new GatedStore(new MemoryStore())
    t = await startServer({ store, config: { maxPendingWriteBytes: 65536 } })
    const writer = hocus(t.url, 'overload')
    await synced(writer.provider)
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'the initial sync to settle')
    const closes: number[] = []
    writer.provider.on('close', ({ event }: { event: { code: number } }) => closes.push(event.code))
    store.failAppends = new Error('database unreachable')
    for (let i = 0; i < 20; i++) writer.doc.getText('t').insert(0, 'x'.repeat(5000))
    await waitFor(() => closes.includes(1013), 'the writer to be told to try again later')
    expect(t.server.durability.pendingBytes).toBeLessThan(65536 + 6000) // one update over, no more
    store.failAppends = null
    await waitFor(() => writer.provider.unsyncedChanges === 0, 'everything written and acknowledged after reconnecting', 20_000)
    const stored = await store.inner.load('overload')
    const check = new Y.Doc()
    for (const u of stored!.updates) Y.applyUpdate(check, u)
    expect(check.getText('t').length).toBe(100_000)
  })

  it('stops retrying writes once the server is closed', async () => {
    const store = new GatedStore(new MemoryStore())
    t = await startServer({ store, config: { shutdownTimeoutMs: 300 } })
    const writer = hocus(t.url, 'retry-after-close')
    await synced(writer.provider)
    store.failAppends = new Error('still down')
    writer.doc.getText('t').insert(0, 'never written')
    await waitFor(() => store.appendCalls.length >= 2, 'retries')
    const result = await t.server.close()
    expect(result.clean).toBe(false)
    const calls = store.appendCalls.length
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(store.appendCalls.length).toBe(calls)
    t = null
  })
})
