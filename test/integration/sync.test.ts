/**
 * Syncing through collabd with the stock, unchanged client packages: y-websocket's
 * WebsocketProvider and @hocuspocus/provider 4.x, alone and together on one document.
 */
import * as encoding from 'lib0/encoding'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { destroyClients, hocus, hocusSocket, raw, synced, text, yws } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { once, waitFor } from '../helpers/wait.js'

let t: TestServer
beforeAll(async () => { t = await startServer() })
afterEach(() => destroyClients())
afterAll(async () => { await t.close() })

describe('y-websocket provider', () => {
  it('two clients converge, including content made before connecting', async () => {
    const a = yws(t.url, 'yws-converge')
    await synced(a.provider)
    a.doc.getText('t').insert(0, 'from a. ')
    const early = new Y.Doc()
    early.getText('t').insert(0, 'offline b. ')
    const b = yws(t.url, 'yws-converge', { doc: early })
    await synced(b.provider)
    b.doc.getText('t').insert(b.doc.getText('t').length, 'online b.')
    await waitFor(() => text(a.doc) === text(b.doc) && text(a.doc).length === 'from a. offline b. online b.'.length, 'both docs to hold all three edits')
  })

  it('decodes percent-encoded document names from the path', async () => {
    const a = yws(t.url, encodeURIComponent('team 1/diagram ✓'))
    await synced(a.provider)
    expect(t.server.registry.get('team 1/diagram ✓')).toBeDefined()
  })

  it('shares awareness and removes a client\'s state when it leaves', async () => {
    const a = yws(t.url, 'yws-awareness')
    const b = yws(t.url, 'yws-awareness')
    await synced(a.provider)
    await synced(b.provider)
    a.provider.awareness.setLocalStateField('user', { name: 'Ann' })
    await waitFor(() => b.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === 'Ann', 'b to see Ann')
    a.provider.disconnect()
    await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), 'Ann\'s state to be removed at b')
  })

  it('answers query-awareness with every present state', async () => {
    const a = yws(t.url, 'yws-query')
    await synced(a.provider)
    a.provider.awareness.setLocalStateField('user', 'Ann')
    await waitFor(() => t.server.registry.get('yws-query')?.awareness.presentCount === 1, 'server to hold Ann\'s state')
    const c = await raw(`${t.url}/yws-query`)
    c.send(Uint8Array.of(3))
    await waitFor(() => c.frames.some((f) => f[0] === 1 && new TextDecoder().decode(f).includes('Ann')), 'an awareness answer naming Ann')
  })

  it('does not echo an update back to the connection it came from', async () => {
    const c = await raw(`${t.url}/yws-echo`)
    const observer = yws(t.url, 'yws-echo')
    await synced(observer.provider)
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'raw edit')
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0)
    syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc))
    c.send(encoding.toUint8Array(e))
    await waitFor(() => text(observer.doc) === 'raw edit', 'the observer to receive the edit')
    // Frames to the raw client: our sync step 1, maybe the observer's awareness; no update (0, 2).
    expect(c.frames.filter((f) => f[0] === 0 && f[1] === 2)).toHaveLength(0)
  })
})

describe('hocuspocus provider', () => {
  it('authenticates read-write, syncs, and settles unsyncedChanges at 0', async () => {
    const a = hocus(t.url, 'hp-converge')
    const b = hocus(t.url, 'hp-converge')
    const scope = await once<{ scope: string }>(a.provider, 'authenticated', 'authenticated')
    expect(scope.scope).toBe('read-write')
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getText('t').insert(0, 'hello')
    await waitFor(() => text(b.doc) === 'hello', 'b to see hello')
    await waitFor(() => a.provider.unsyncedChanges === 0, 'a to have no unsynced changes')
  })

  it('multiplexes several documents over one socket and closes one without closing the socket', async () => {
    const socket = hocusSocket(t.url)
    const one = hocus(t.url, 'mux-1', { websocketProvider: socket })
    const two = hocus(t.url, 'mux-2', { websocketProvider: socket })
    await synced(one.provider)
    await synced(two.provider)
    const peerOne = hocus(t.url, 'mux-1')
    const peerTwo = hocus(t.url, 'mux-2')
    await synced(peerOne.provider)
    await synced(peerTwo.provider)
    one.doc.getText('t').insert(0, 'one')
    two.doc.getText('t').insert(0, 'two')
    await waitFor(() => text(peerOne.doc) === 'one' && text(peerTwo.doc) === 'two', 'each peer to get its own document only')
    expect(t.server.activeConnections).toBeGreaterThanOrEqual(3)
    const sockets = t.server.activeConnections
    one.provider.destroy() // sends Close for mux-1 only
    await waitFor(() => t.server.registry.get('mux-1')?.members.size === 1, 'mux-1 to lose the closed member')
    two.doc.getText('t').insert(3, '!')
    await waitFor(() => text(peerTwo.doc) === 'two!', 'mux-2 to keep syncing over the same socket')
    expect(t.server.activeConnections).toBe(sockets)
  })

  it('multiplexes two providers of the same document with sessionAwareness', async () => {
    const socket = hocusSocket(t.url)
    const one = hocus(t.url, 'same-doc', { websocketProvider: socket, sessionAwareness: true })
    const two = hocus(t.url, 'same-doc', { websocketProvider: socket, sessionAwareness: true })
    await synced(one.provider)
    await synced(two.provider)
    one.doc.getText('t').insert(0, 'A')
    await waitFor(() => text(two.doc) === 'A', 'the second session on the same socket to receive A')
  })

  it('delivers stateless messages both ways', async () => {
    const a = hocus(t.url, 'stateless')
    await synced(a.provider)
    const got = new Promise<{ payload: string, documentName: string }>((resolve) => t.server.once('stateless', (e) => {
      e.reply(`echo:${e.payload}`)
      resolve(e)
    }))
    const replies: string[] = []
    a.provider.on('stateless', ({ payload }: { payload: string }) => replies.push(payload))
    a.provider.sendStateless('ping-1')
    expect(await got).toMatchObject({ payload: 'ping-1', documentName: 'stateless' })
    await waitFor(() => replies.includes('echo:ping-1'), 'the reply')
    t.server.broadcastStateless('stateless', 'to-everyone')
    await waitFor(() => replies.includes('to-everyone'), 'the broadcast')
  })

  it('answers the bare Ping frame with a bare Pong', async () => {
    const c = await raw(t.url)
    c.send(Uint8Array.of(9))
    await waitFor(() => c.frames.some((f) => f.length === 1 && f[0] === 10), 'a Pong')
    c.send(Uint8Array.of(10)) // and a Pong from the client is fine too
    c.send(Uint8Array.of(9))
    await waitFor(() => c.frames.filter((f) => f.length === 1 && f[0] === 10).length === 2, 'a second Pong on the same, still open socket')
  })
})

describe('one document, both protocols', () => {
  it('converges and shares awareness between a y-websocket and a Hocuspocus client', async () => {
    const a = yws(t.url, 'mixed')
    const b = hocus(t.url, 'mixed')
    await synced(a.provider)
    await synced(b.provider)
    a.doc.getText('t').insert(0, 'yws ')
    b.doc.getText('t').insert(0, 'hocus ')
    await waitFor(() => text(a.doc) === text(b.doc) && text(a.doc).length === 'yws hocus '.length, 'both edits on both sides')
    a.provider.awareness.setLocalStateField('user', 'from-yws')
    b.provider.setAwarenessField('user', 'from-hocus')
    await waitFor(() => b.provider.awareness!.getStates().get(a.doc.clientID)?.user === 'from-yws', 'hocus to see yws presence')
    await waitFor(() => a.provider.awareness.getStates().get(b.doc.clientID)?.user === 'from-hocus', 'yws to see hocus presence')
    b.provider.destroy()
    await waitFor(() => !a.provider.awareness.getStates().has(b.doc.clientID), 'the hocus presence to go when it leaves')
  })
})
